"""Loading a case: PETs by tracer on their own grids, loud refusals naming the case."""

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import make_image
from reactkd.io import load_case


def test_pet_far_away_is_refused(toy_case_images):
    t = toy_case_images
    far = make_image(np.ones((10, 10, 10), np.float32), spacing=(4, 4, 4), origin=(900, 900, 900))
    with pytest.raises(ValueError, match="case X1: PET fdg: its world geometry does not overlap the CT"):
        load_case(t["ct"], t["liver"], pets={"fdg": far}, case_id="X1")


def test_unknown_tracer_and_bad_grade(toy_case_images):
    t = toy_case_images
    with pytest.raises(ValueError, match=r"unknown PET tracer 'psma'; known tracers are \['fdg', 'acetate'\]"):
        load_case(t["ct"], t["liver"], pets={"psma": t["ct"]}, case_id="X2")
    with pytest.raises(ValueError, match="`grade` must be 1, 2 or 3, got 4"):
        load_case(t["ct"], t["liver"], grade=4, case_id="X3")


def test_nan_ct_in_memory_is_refused(toy_case_images):
    t = toy_case_images
    arr = sitk.GetArrayFromImage(t["ct"]).astype(np.float32)
    arr[3, 3, 3] = np.nan
    with pytest.raises(ValueError, match=r"case X4: CT: 1 voxel\(s\) are NaN"):
        load_case(make_image(arr, **t["geo"]), t["liver"], case_id="X4")


def test_files_and_other_grid_masks(tmp_path, toy_case_images):
    t = toy_case_images
    sitk.WriteImage(t["ct"], str(tmp_path / "ct.nrrd"))
    coarse_liver = sitk.Resample(t["liver"], make_image(np.zeros((20, 24, 28), np.uint8), spacing=(3, 3, 4),
                                                         origin=t["geo"]["origin"]), sitk.Transform(),
                                 sitk.sitkNearestNeighbor)
    sitk.WriteImage(coarse_liver, str(tmp_path / "liver.nii.gz"))
    case = load_case(tmp_path / "ct.nrrd", tmp_path / "liver.nii.gz", case_id="X5", patient_id="P5", grade=3)
    assert case.liver.GetSize() == t["ct"].GetSize() and case.patient_id == "P5"
    overlap = (sitk.GetArrayFromImage(case.liver) & sitk.GetArrayFromImage(t["liver"])).sum()
    assert overlap / sitk.GetArrayFromImage(t["liver"]).sum() > 0.85
    assert sitk.GetArrayFromImage(case.tumor).sum() == 0
