"""SimpleITK-level simulation: geometry, determinism, refusals, and the real CT fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from reactkd.dose import DoseLevel, LowDoseSimulator

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "totalsegmentator"
REAL_CT = REAL / "example_ct_sm.nii.gz"


def _image(size=(40, 36, 3), spacing=(3.5, 3.5, 5.0)) -> sitk.Image:
    """Small oblique CT: water ellipse in air, int16 like a scanner's output, non-trivial geometry."""
    x, y = np.meshgrid(np.arange(size[0]) - size[0] / 2, np.arange(size[1]) - size[1] / 2)
    hu = np.where((x / 16) ** 2 + (y / 13) ** 2 < 1, 40, -1000).astype(np.int16)
    image = sitk.GetImageFromArray(np.repeat(hu[None], size[2], axis=0))
    image.SetSpacing(spacing)
    image.SetOrigin((-70.0, 12.5, 300.0))
    c, s = np.cos(0.3), np.sin(0.3)
    image.SetDirection((c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0))
    return image


def test_geometry_preserved_and_output_is_float_hu():
    image = _image()
    out = LowDoseSimulator()(image, "severe", seed=0)
    assert out.GetSize() == image.GetSize()
    assert out.GetOrigin() == image.GetOrigin()
    assert out.GetSpacing() == image.GetSpacing()
    assert out.GetDirection() == image.GetDirection()
    assert out.GetPixelID() == sitk.sitkFloat32
    diff = sitk.GetArrayFromImage(out) - sitk.GetArrayFromImage(image)
    assert 0.0 < float(np.abs(diff).mean()) < 50.0  # noise was added, and it is CT-scale


def test_native_returns_the_input():
    image = _image()
    out = LowDoseSimulator()(image, DoseLevel.NATIVE, seed=5)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(out), sitk.GetArrayFromImage(image).astype(np.float32))


def test_deterministic_for_a_seed():
    hu = sitk.GetArrayFromImage(_image()).astype(np.float32)
    a = LowDoseSimulator().simulate_array(hu, (5.0, 3.5, 3.5), 0.3, seed=42)
    b = LowDoseSimulator().simulate_array(hu, (5.0, 3.5, 3.5), 0.3, seed=42)
    c = LowDoseSimulator().simulate_array(hu, (5.0, 3.5, 3.5), 0.3, seed=43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("dose", "fragment"),
    [(0.0, r"\(0, 1\].*got 0.0"), (-1.0, r"got -1.0"), (1.2, r"got 1.2"), ("loud", r"got 'loud'")],
)
def test_bad_fraction_refused(dose, fragment):
    with pytest.raises(ValueError, match=fragment):
        LowDoseSimulator()(_image(), dose)


def test_non_3d_image_refused():
    slice2d = sitk.Image(32, 32, sitk.sitkInt16)
    with pytest.raises(ValueError, match=r"must be a 3-D CT volume, got a 2-D image of size \(32, 32\)"):
        LowDoseSimulator()(slice2d, "mild")
    series = sitk.Image([8, 8, 4, 2], sitk.sitkFloat32)
    with pytest.raises(ValueError, match=r"got a 4-D image"):
        LowDoseSimulator()(series, "mild")
    with pytest.raises(TypeError, match=r"SimpleITK.Image, got ndarray"):
        LowDoseSimulator()(np.zeros((4, 8, 8)), "mild")


@pytest.mark.parametrize(
    ("args", "error", "fragment"),
    [
        ((np.zeros((8, 8)), (1, 1, 1)), ValueError, r"3-D array \(Z, Y, X\).*got shape \(8, 8\)"),
        ((np.full((2, 8, 8), np.nan), (1, 1, 1)), ValueError, r"finite, got 128 NaN"),
        ((np.zeros((2, 8, 8)), (1, 0, 1)), ValueError, r"`spacing`.*got \(1, 0, 1\)"),
        ((np.zeros((2, 8, 8)), (1, 1)), ValueError, r"`spacing` must be three"),
    ],
)
def test_bad_array_refused(args, error, fragment):
    with pytest.raises(error, match=fragment):
        LowDoseSimulator().simulate_array(*args, dose="mild")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"fluence": 0}, r"`fluence` must be a finite number > 0, got 0"),
        ({"electronic_noise_var": -1.0}, r"`electronic_noise_var`.*got -1.0"),
        ({"window": "gauss"}, r"`window` must be one of 'ramp'.*'hann', got 'gauss'"),
        ({"mode": "both"}, r"`mode` must be one of 'noise-only', 'full', got 'both'"),
        ({"n_angles": 1}, r"`n_angles` must be an int >= 2 or None, got 1"),
    ],
)
def test_bad_parameters_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        LowDoseSimulator(**kwargs)


def test_bad_seed_refused():
    hu = np.zeros((1, 8, 8), np.float32)
    with pytest.raises(ValueError, match=r"`seed` must be an int >= 0, got -1"):
        LowDoseSimulator().simulate_array(hu, (1, 1, 1), "mild", seed=-1)
    with pytest.raises(TypeError, match=r"`seed` must be an int >= 0, got 1.5"):
        LowDoseSimulator().simulate_array(hu, (1, 1, 1), "mild", seed=1.5)


@pytest.mark.real
@pytest.mark.skipif(not REAL_CT.is_file(), reason=f"real CT fixture not present at {REAL_CT}")
def test_real_ct_both_levels():
    """TotalSegmentator example CT (122 x 101 x 30, 3 mm): noise grows mild -> severe, anatomy kept."""
    from reactkd.io import read_image

    image = read_image(REAL_CT, role="CT")
    hu = sitk.GetArrayFromImage(image).astype(np.float32)
    soft = (hu > -100) & (hu < 200)  # soft tissue, where the noise is read
    spread = {}
    for level in ("mild", "severe"):
        out = LowDoseSimulator()(image, level, seed=0)
        assert out.GetSize() == image.GetSize() and out.GetDirection() == image.GetDirection()
        diff = sitk.GetArrayFromImage(out) - hu
        assert np.isfinite(diff).all()
        assert abs(float(diff[soft].mean())) < 1.0  # no HU shift
        spread[level] = float(diff[soft].std())
    # Added std ~ sqrt((1 - k) / k): 1 at mild, sqrt(3) at severe (ratio 1.73).
    assert 0.0 < spread["mild"] < spread["severe"] < 30.0
    assert spread["severe"] / spread["mild"] == pytest.approx(np.sqrt(3.0), rel=0.01)  # measured 0.1 %
