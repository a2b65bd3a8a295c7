"""The scanner model on a water phantom: its noise is what the declared fluence predicts, and a reduced
dose simulated from its scan is the same scanner at fewer photons."""

from __future__ import annotations

import numpy as np
import pytest

from reactkd.dose import LowDoseSimulator
from reactkd.dose.acquisition import Acquisition
from reactkd.dose.scanner import acquire, predicted_noise_std

N, PIXEL, SLICE, RADIUS = 96, 2.5, 5.0, 100.0
SPACING = (SLICE, PIXEL, PIXEL)
ACQ = Acquisition(fluence=5e6)  # quantum-limited: ~600 counts per ray behind 20 cm of water


def _water(z: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(z, N, N) water cylinder of ``RADIUS`` in air, and its central ROI (r < 20 mm, where noise is flat)."""
    yy, xx = np.mgrid[:N, :N]
    r = np.hypot(yy - N // 2, xx - N // 2) * PIXEL
    return np.repeat(np.where(r < RADIUS, 0.0, -1000.0).astype(np.float32)[None], z, axis=0), r < 20


@pytest.fixture(scope="module")
def scan() -> tuple[np.ndarray, np.ndarray]:
    vol, roi = _water()
    return acquire(vol, SPACING, ACQ, seed=1), roi


def test_native_noise_is_what_the_declared_fluence_predicts(scan):
    img, roi = scan
    predicted = predicted_noise_std((N, N), SPACING, ACQ, RADIUS)
    assert 3.0 < predicted < 30.0  # a CT-like noise level, not a degenerate one
    assert img[:, roi].std() == pytest.approx(predicted, rel=0.07)  # measured 4.9 %
    assert abs(img[:, roi].mean()) < 2.0  # water reads 0 HU


def test_noise_ratio_between_doses_follows_sqrt_of_dose(scan):
    img, roi = scan
    sim = LowDoseSimulator.for_acquisition(ACQ)
    std = {1.0: img[:, roi].std()}
    for i, k in enumerate((0.5, 0.25, 0.1)):
        std[k] = sim.simulate_array(img, SPACING, k, seed=10 + i)[:, roi].std()
    for k1, k2 in ((1.0, 0.5), (1.0, 0.25), (0.5, 0.1), (0.25, 0.1)):
        assert std[k2] / std[k1] == pytest.approx(np.sqrt(k1 / k2), rel=0.06), (k1, k2)  # measured 0.5 to 4.2 %


def test_reduced_dose_is_the_same_scanner_at_fewer_photons(scan):
    """Simulating a quarter dose from the scan gives the noise of scanning at a quarter of the fluence."""
    img, roi = scan
    vol, _ = _water()
    simulated = LowDoseSimulator.for_acquisition(ACQ).simulate_array(img, SPACING, 0.25, seed=3)
    direct = acquire(vol, SPACING, Acquisition(fluence=ACQ.fluence / 4), seed=4)
    # measured 7.5 % and 0.2 % (two independent noise draws in a 40 mm ROI differ by that much)
    assert simulated[:, roi].std() == pytest.approx(direct[:, roi].std(), rel=0.10)
    assert simulated[:, roi].std() == pytest.approx(predicted_noise_std((N, N), SPACING, ACQ, RADIUS, dose=0.25),
                                                    rel=0.03)


def test_scan_keeps_geometry_and_mean_values():
    vol, _ = _water(z=2)
    vol[:, 40:56, 40:56] = 60.0  # a liver-like insert
    out = acquire(vol, SPACING, ACQ, seed=0)
    assert out.shape == vol.shape and out.dtype == np.float32
    assert out[:, 43:53, 43:53].mean() == pytest.approx(60.0, abs=1.0)  # measured 0.27 HU off
    np.testing.assert_array_equal(out, acquire(vol, SPACING, ACQ, seed=0))  # reproducible
    assert not np.array_equal(out, acquire(vol, SPACING, ACQ, seed=1))


def test_acquisition_refuses_bad_values():
    with pytest.raises(ValueError, match="`fluence` must be a finite number > 0"):
        Acquisition(fluence=0)
    with pytest.raises(ValueError, match="`kernel` must be one of"):
        Acquisition(fluence=1e6, kernel="bone")
    with pytest.raises(ValueError, match="unknown key"):
        Acquisition.from_dict({"fluence": 1e6, "mAs": 100})
