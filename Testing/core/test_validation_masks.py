"""Masks are judged in world geometry: a tumour mask cropped to its bounding box, a tumour on
its own finer grid and a cropped liver on a whole-body CT are accepted; only masks whose voxels lie
outside the CT are refused. Suspicious PET values and a tumour outside the liver give warnings."""

import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import ball, make_image
from reactkd.io import load_case, read_mask


def _crop_to_box(mask: sitk.Image, pad: int = 1) -> sitk.Image:
    a = sitk.GetArrayFromImage(mask)
    hits = np.argwhere(a)
    lo, hi = hits.min(0) - pad, hits.max(0) + 1 + pad
    # SimpleITK slicing keeps the world origin
    return mask[int(lo[2]):int(hi[2]), int(lo[1]):int(hi[1]), int(lo[0]):int(hi[0])]


def _no_warnings(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*a, **k)


def test_tumor_mask_cropped_to_its_bounding_box_is_accepted(tmp_path, toy_case_images):
    t = toy_case_images
    cropped = _crop_to_box(t["tumor"])
    assert np.prod(cropped.GetSize()) / np.prod(t["ct"].GetSize()) < 0.05  # the old box test refused it
    path = tmp_path / "tumor_crop.nii.gz"
    sitk.WriteImage(cropped, str(path))
    case = _no_warnings(load_case, t["ct"], t["liver"], path, case_id="C")
    np.testing.assert_array_equal(sitk.GetArrayFromImage(case.tumor), sitk.GetArrayFromImage(t["tumor"]))
    case = _no_warnings(load_case, t["ct"], t["liver"], cropped, case_id="C")  # in memory (Slicer)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(case.tumor), sitk.GetArrayFromImage(t["tumor"]))


def test_tumor_on_its_own_finer_grid_is_accepted(tmp_path):
    ct = make_image(np.zeros((40, 40, 40), np.int16), spacing=(2, 2, 2), origin=(0, 0, 0))
    liver = make_image(ball((40, 40, 40), (20, 20, 20), 15).astype(np.uint8), spacing=(2, 2, 2))
    # a 3 mm radius lesion at world (40, 40, 40) mm on a 0.5 mm grid covering only 8 mm³ around it
    fine = make_image(ball((17, 17, 17), (8, 8, 8), 6).astype(np.uint8), spacing=(0.5, 0.5, 0.5),
                      origin=(36, 36, 36))
    path = tmp_path / "lesion.nrrd"
    sitk.WriteImage(fine, str(path))
    tumor = _no_warnings(read_mask, path, role="tumor", reference=ct)
    case = _no_warnings(load_case, ct, liver, path, case_id="F")  # inside the liver: no warning either
    np.testing.assert_array_equal(sitk.GetArrayFromImage(case.tumor), sitk.GetArrayFromImage(tumor))
    arr = sitk.GetArrayFromImage(tumor)
    assert arr.sum() > 0
    assert np.allclose(np.argwhere(arr).mean(0) * 2, 40, atol=1.0)  # centred at 40 mm


def test_cropped_liver_on_a_whole_body_ct_is_accepted(tmp_path):
    body = make_image(np.zeros((120, 60, 60), np.int16), spacing=(4, 4, 5), origin=(-120, -120, -600))
    liver = make_image(np.ones((12, 10, 10), np.uint8), spacing=(4, 4, 5), origin=(-20, -20, -300))
    path = tmp_path / "liver_crop.nii.gz"
    sitk.WriteImage(liver, str(path))
    mask = _no_warnings(read_mask, path, role="liver", reference=body)
    assert sitk.GetArrayFromImage(mask).sum() == 1200


def test_a_mask_outside_the_ct_is_refused_and_a_partial_one_warned(tmp_path, toy_case_images):
    t = toy_case_images
    far = make_image(np.ones((5, 5, 5), np.uint8), origin=(500, 500, 500))
    with pytest.raises(ValueError, match=r"case F: tumor mask: its voxels lie outside the CT's field of view .* "
                                         r"it does not overlap the CT"):
        load_case(t["ct"], t["liver"], far, case_id="F")
    # an empty box that overlaps the CT but whose only voxel is far away is refused as well
    ct_box = make_image(np.zeros((10, 10, 10), np.int16))
    wide = np.zeros((10, 10, 400), np.uint8)
    wide[5, 5, 399] = 1
    with pytest.raises(ValueError, match="outside the CT's field of view"):
        read_mask(_save(tmp_path / "wide.nii.gz", make_image(wide)), role="liver", reference=ct_box)
    half = make_image(np.ones((10, 10, 10), np.uint8), origin=(5, 0, 0))
    with pytest.warns(UserWarning, match=r"liver mask .*50 % of the mask lies outside the CT's field of view"):
        read_mask(_save(tmp_path / "half.nii.gz", half), role="liver", reference=ct_box)


def _save(path, image):
    sitk.WriteImage(image, str(path))
    return path


def test_tumor_entirely_outside_the_liver_warns(toy_case_images):
    t = toy_case_images
    outside = np.zeros(t["shape"], np.uint8)
    outside[36:39, 2:5, 2:5] = 1
    tumor = make_image(outside, **t["geo"])
    with pytest.warns(UserWarning, match="case W: the tumour mask lies entirely outside the liver mask"):
        load_case(t["ct"], t["liver"], tumor, case_id="W")
    _no_warnings(load_case, t["ct"], t["liver"], t["tumor"], case_id="W")  # a tumour inside does not warn


def test_all_zero_and_negative_pet_warn(toy_case_images):
    t = toy_case_images
    zero = make_image(np.zeros((10, 12, 14), np.float32), spacing=(6, 6, 6), origin=t["geo"]["origin"])
    with pytest.warns(UserWarning, match=r"case P: PET fdg: no voxel has positive uptake \(all zero\)"):
        load_case(t["ct"], t["liver"], pets={"fdg": zero}, case_id="P")
    negative = make_image(-np.ones((10, 12, 14), np.float32), spacing=(6, 6, 6), origin=t["geo"]["origin"])
    with pytest.warns(UserWarning, match=r"all zero or negative"):
        load_case(t["ct"], t["liver"], pets={"fdg": negative}, case_id="P")
    ct_as_pet = make_image(np.random.default_rng(0).normal(-300, 400, (10, 12, 14)).astype(np.float32),
                           spacing=(6, 6, 6), origin=t["geo"]["origin"])
    with pytest.warns(UserWarning, match=r"% of the voxels are negative"):
        load_case(t["ct"], t["liver"], pets={"acetate": ct_as_pet}, case_id="P")
    fine = make_image(np.random.default_rng(0).gamma(2, 1, (10, 12, 14)).astype(np.float32), spacing=(6, 6, 6),
                      origin=t["geo"]["origin"])
    _no_warnings(load_case, t["ct"], t["liver"], pets={"fdg": fine}, case_id="P")
