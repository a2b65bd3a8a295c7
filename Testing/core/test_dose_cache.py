"""On-disk cache of simulated volumes (reactkd.dose.cache)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from reactkd.dose import DoseCache, LowDoseSimulator


def _image(value: float = 0.0) -> sitk.Image:
    yy, xx = np.mgrid[:24, :24] - 11.5
    hu = np.where(np.hypot(yy, xx) < 10, value, -1000.0).astype(np.float32)
    image = sitk.GetImageFromArray(np.repeat(hu[None], 2, axis=0))
    image.SetSpacing((4.0, 4.0, 5.0))
    image.SetOrigin((1.0, 2.0, 3.0))
    return image


def test_miss_then_hit(tmp_path, monkeypatch):
    cache = DoseCache(tmp_path)
    image = _image()
    first = cache.get_or_simulate("HCC_001", image, "severe", seed=3)
    path = cache.path("HCC_001", image, "severe", 3)
    assert path.is_file() and path.parent == tmp_path / "HCC_001" and path.name.startswith("severe_seed3_")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind

    def no_simulation(*_args, **_kwargs):
        raise AssertionError("a cached volume was simulated again")

    monkeypatch.setattr(LowDoseSimulator, "__call__", no_simulation)
    again = cache.get_or_simulate("HCC_001", image, 0.25, seed=3)  # 0.25 is 'severe': same entry
    np.testing.assert_array_equal(sitk.GetArrayFromImage(again), sitk.GetArrayFromImage(first))
    assert again.GetOrigin() == image.GetOrigin() and again.GetSpacing() == image.GetSpacing()


def test_key_covers_seed_dose_input_and_parameters(tmp_path):
    cache, image = DoseCache(tmp_path), _image()
    base = cache.path("c1", image, "mild", 0)
    assert cache.path("c1", image, "mild", 1) != base
    assert cache.path("c1", image, 0.3, 0) != base
    assert cache.path("c1", _image(40.0), "mild", 0) != base  # the case's volume changed
    assert DoseCache(tmp_path, LowDoseSimulator(fluence=5e7)).path("c1", image, "mild", 0) != base


def test_native_is_not_cached(tmp_path):
    out = DoseCache(tmp_path).get_or_simulate("c1", _image(), "native")
    assert sitk.GetArrayFromImage(out).dtype == np.float32
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("case_id", ["../escape", "a/b", "", ".hidden", "x y"])
def test_unsafe_case_id_refused(tmp_path, case_id):
    with pytest.raises(ValueError, match=r"`case_id` must be a plain name"):
        DoseCache(tmp_path).path(case_id, _image(), "mild", 0)
