"""Preprocessing (paper §III-B): intensities, mask refinement, the model grid and its world geometry."""

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import ball, make_image
from reactkd.io import load_case
from reactkd.preprocess import ModelGrid, ModelInput, PreprocessConfig, normalize_ct, normalize_pet, preprocess_case
from reactkd.preprocess.masks import close_mask, largest_component, refine_liver


def test_normalize_ct_clips_then_zscores():
    hu = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0], np.float32)
    out = normalize_ct(hu, (-160, 240))
    clipped = np.array([-160, -160, 40, 240, 240], np.float32)
    np.testing.assert_allclose(out, (clipped - clipped.mean()) / clipped.std(), rtol=1e-5)
    with pytest.raises(ValueError, match="high > low"):
        normalize_ct(hu, (240, -160))


def test_normalize_pet_percentile_clip():
    rng = np.random.default_rng(1)
    pet = rng.gamma(2.0, 1.0, 10000).astype(np.float32)
    pet[0] = 1e4  # a hot bladder voxel must not dominate
    out = normalize_pet(pet)
    assert abs(out.mean()) < 1e-4 and abs(out.std() - 1) < 1e-3
    lo, hi = np.percentile(pet, [1, 99])
    ref = np.clip(pet, lo, hi)
    np.testing.assert_allclose(out, (ref - ref.mean()) / ref.std(), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="pet_percentiles"):
        normalize_pet(pet, (99, 1))


def test_largest_component_and_closing():
    m = ball((20, 20, 20), (10, 10, 10), 6) | ball((20, 20, 20), (2, 2, 2), 1)
    m[10, 10, 10] = False  # a one-voxel hole
    lcc = largest_component(m)
    assert not lcc[2, 2, 2] and lcc[10, 10, 9]
    refined = refine_liver(m)
    assert refined[10, 10, 10]  # closing filled the hole
    assert not refined[2, 2, 2]
    assert close_mask(np.zeros((5, 5, 5), bool)).sum() == 0


def test_model_grid_centres_liver_and_keeps_geometry(toy_case_images):
    t = toy_case_images
    liver = sitk.GetArrayFromImage(t["liver"]).astype(bool)
    grid = ModelGrid.around_mask(liver, t["ct"], size=32, margin_mm=10)
    assert grid.shape == (32, 32, 32)
    # liver extent: 25 voxels × 1.5 mm along x/y, 25 × 2 mm along z → longest 50 mm + 2 × 10 mm margin
    assert grid.spacing[0] == pytest.approx(70 / 32)
    ref = grid.reference()
    center_world = np.asarray(ref.TransformContinuousIndexToPhysicalPoint([15.5] * 3))
    liver_center = np.asarray(t["ct"].TransformContinuousIndexToPhysicalPoint(
        np.argwhere(liver).mean(0)[::-1].tolist()))
    assert np.allclose(center_world, liver_center, atol=1.0)
    assert ModelGrid.from_dict(grid.to_dict()) == grid


def test_preprocess_case_outputs_and_world_consistency(toy_case_images):
    t = toy_case_images
    case = load_case(t["ct"], t["liver"], t["tumor"], case_id="toy")
    cfg = PreprocessConfig(grid_size=32)
    mi = preprocess_case(case, cfg)
    assert mi.ct.shape == (1, 32, 32, 32) and mi.pet.shape == (2, 32, 32, 32)
    assert not mi.pet_present.any() and np.all(mi.pet == 0)
    assert mi.num_nodes == 3 and [n["kind"] for n in mi.nodes] == ["liver", "tumor", "tumor"]
    assert abs(mi.ct.mean()) < 1e-4 and abs(mi.ct.std() - 1) < 1e-3
    # each ROI's volume and world centroid survive the move to the model grid
    voxel_ml = np.prod(mi.grid.spacing) / 1000
    ref = mi.grid.reference()
    for k, node in enumerate(mi.nodes):
        frac = mi.roi_masks[k]
        # measured 0.2 % (liver), 1.2 % and 5.0 % (the tumours: partial volumes on the 32³ grid)
        assert frac.sum() * voxel_ml == pytest.approx(node["volume_ml"], rel=0.06)
        c = (np.argwhere(frac > 0) * frac[frac > 0][:, None]).sum(0) / frac.sum()
        world = ref.TransformContinuousIndexToPhysicalPoint(c[::-1].tolist())
        assert np.allclose(world, node["centroid_lps_mm"], atol=0.5)
    assert not hasattr(mi, "masked") and not hasattr(mi, "lesion_crop")  # no model read them: removed
    # painting a grid map back lands on the CT's grid, in the same place
    painted = mi.grid.paint_back(mi.roi_masks[0], case.ct)
    assert painted.GetSize() == case.ct.GetSize()
    back = sitk.GetArrayFromImage(painted)
    liver = sitk.GetArrayFromImage(t["liver"]).astype(bool)
    assert ((back > 0.5) == liver).mean() > 0.99


def test_pet_on_other_grid_is_resampled(toy_case_images):
    t = toy_case_images
    pet = np.ones((20, 24, 28), np.float32)
    pet_img = make_image(pet, spacing=(3.0, 3.0, 4.0), origin=(-121.0, 29.0, -56.0))
    arr = sitk.GetArrayFromImage(t["liver"]).astype(bool)
    up = sitk.GetArrayFromImage(sitk.Resample(t["liver"], pet_img, sitk.Transform(), sitk.sitkNearestNeighbor))
    pet[up > 0] = 5.0  # hot liver on the PET grid
    pet_img = make_image(pet, spacing=(3.0, 3.0, 4.0), origin=(-121.0, 29.0, -56.0))
    case = load_case(t["ct"], t["liver"], pets={"FDG": pet_img}, case_id="toy")
    mi = preprocess_case(case, PreprocessConfig(grid_size=24))
    assert mi.pet_present.tolist() == [True, False]
    inside = mi.roi_masks[0] > 0.9
    assert mi.pet[0][inside].mean() > mi.pet[0][~inside & (mi.roi_masks[0] == 0)].mean() + 1.0
    assert arr.any()


def test_model_input_save_load_round_trip(tmp_path, toy_case_images):
    t = toy_case_images
    mi = preprocess_case(load_case(t["ct"], t["liver"], t["tumor"], case_id="toy", grade=2),
                         PreprocessConfig(grid_size=16))
    path = tmp_path / "c.npz"
    mi.save(path)
    back = ModelInput.load(path)
    assert back.grid == mi.grid and back.config == mi.config and back.nodes == mi.nodes and back.grade == 2
    np.testing.assert_array_equal(back.roi_masks, mi.roi_masks)
    assert not list(tmp_path.glob("*.tmp"))


def test_empty_liver_names_case(toy_case_images):
    t = toy_case_images
    empty = make_image(np.zeros(t["shape"], np.uint8), **t["geo"])
    with pytest.raises(ValueError, match="case P7-b: the liver mask is empty"):
        preprocess_case(load_case(t["ct"], empty, case_id="P7-b"))


def test_bad_config_values():
    with pytest.raises(ValueError, match="`grid_size` must be >= 8"):
        PreprocessConfig(grid_size=4)
    with pytest.raises(ValueError, match=r"unknown preprocessing key\(s\) \['grid'\]"):
        PreprocessConfig.from_dict({"grid": 3})
