r"""The acquired noise of a CT measured in a homogeneous region, and the fluence that explains it.

A CT is often not on its acquisition's pixels (resampled, thick-slice or 3 mm exports, an unknown
scanner), so the fluence a low-dose simulation needs cannot be read from the scanner. It is estimated
instead from the image: the voxel noise :math:`\sigma` of a homogeneous region (liver parenchyma, or
the flat soft tissue of :mod:`reactkd.dose.flat_region` when no mask is given, :func:`noise_region`) is
measured robustly (:func:`measure_noise_std`), and the scanner model is run once at a reference fluence
:math:`\Phi_r` on the same pixels and region. A dose fraction of 1/2 adds exactly the acquired quantum
variance (:math:`(1-k)/k = 1`), so that run measures the noise :math:`\sigma_r` a scanner at
:math:`\Phi_r` would show there; quantum variance scales as :math:`1/\Phi`, hence

.. math:: \hat\Phi = \Phi_r\,(\sigma_r / \sigma)^2,

and a dose :math:`k` simulated at :math:`\hat\Phi` adds the variance :math:`(1/k - 1)\,\sigma^2` in that
region (``Testing/core/test_dose_estimate.py``).

Without a mask, all soft tissue (-20 to 120 HU) takes organ boundaries, bowel and vessels for noise: on
a real 3 mm abdominal CT it read 12.8 HU where the liver reads 10.7, so a quarter dose added 24.2 HU of
noise where the liver implies 19.2. The flat soft tissue (windows whose local SD is near its mode,
Christianson et al. 2015) reads 10.8 HU there and a quarter dose adds 19.6 HU
(``Testing/core/test_dose_flat_region.py``, ``benchmarks/bench_noise_estimate.py``).

Limits: anatomical texture and vessels left in the region inflate :math:`\sigma` (the robust estimator,
the trend removal and the flat-region selection reduce, not remove, them), so the fluence is then
underestimated and more noise added; iteratively reconstructed or denoised CTs have noise that is
neither stationary nor quantum limited, and the estimate only matches its level in the region; the noise
*texture* of a resampled image (smoothed by the interpolation) is not reproduced, only its voxel
variance; electronic noise is taken at its nominal value, so at very low fractions (< 0.1) the added
noise depends on that assumption.
"""

from __future__ import annotations

import os

import numpy as np
from scipy import ndimage

from reactkd.dose.acquisition import Acquisition, read_acquisition
from reactkd.dose.flat_region import flat_region
from reactkd.dose.physics import FLUENCE
from reactkd.dose.simulate import LowDoseSimulator

__all__ = ["measure_noise_std", "soft_tissue_region", "noise_region", "estimate_acquisition", "acquisition_of",
           "MIN_REGION_VOXELS"]

MIN_REGION_VOXELS = 200
"""Fewer voxels than this in a region give no reliable noise estimate (the std's own error ~5 %)."""

_TREND_MM = 10.0  # in-plane Gaussian sigma of the smooth trend removed before measuring
_CALIBRATION_SLICES = 8


def _trend(hu: np.ndarray, region: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """Region-weighted in-plane Gaussian mean (normalised convolution): organ shading, not noise."""
    sigma = (0.0, _TREND_MM / spacing[1], _TREND_MM / spacing[2])
    weight = ndimage.gaussian_filter(region.astype(np.float32), sigma)
    total = ndimage.gaussian_filter(np.where(region, hu, 0).astype(np.float32), sigma)
    return total / np.maximum(weight, 1e-6)


def measure_noise_std(hu: np.ndarray, region: np.ndarray, spacing: tuple[float, float, float]) -> float:
    """Voxel noise std (HU) in ``region``: robust std (1.4826 x MAD) of HU minus its smooth in-plane trend.

    Args:
        hu: ``(Z, Y, X)`` HU. region: boolean mask of the same shape (a homogeneous tissue).
        spacing: ``(s_z, s_y, s_x)`` mm.

    Raises:
        ValueError: if the region has fewer than :data:`MIN_REGION_VOXELS` voxels.
    """
    region = np.asarray(region, bool)
    if region.shape != hu.shape:
        raise ValueError(f"noise region shape {region.shape} does not match the CT's {hu.shape}.")
    n = int(region.sum())
    if n < MIN_REGION_VOXELS:
        raise ValueError(f"the noise region has {n} voxels; at least {MIN_REGION_VOXELS} are needed to measure noise.")
    residual = (hu.astype(np.float32) - _trend(hu, region, spacing))[region]
    return float(1.4826 * np.median(np.abs(residual - np.median(residual))))


def soft_tissue_region(hu: np.ndarray, liver: np.ndarray | None = None, tumor: np.ndarray | None = None) -> np.ndarray:
    """The region noise is measured in: the liver minus tumours (eroded by one voxel in-plane) when a liver
    mask is given, else soft tissue (-20 to 120 HU after a 3-voxel median) eroded by two voxels in-plane."""
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = True
    if liver is not None:
        region = np.asarray(liver, bool) & ~(np.asarray(tumor, bool) if tumor is not None else False)
        return ndimage.binary_erosion(region, in_plane, iterations=1)
    smooth = ndimage.median_filter(hu, size=(1, 3, 3))
    return ndimage.binary_erosion((smooth > -20) & (smooth < 120), in_plane, iterations=2)


def noise_region(hu: np.ndarray, spacing: tuple[float, float, float], liver: np.ndarray | None = None,
                 tumor: np.ndarray | None = None) -> np.ndarray:
    """Where the image noise is read: the liver minus tumours (:func:`soft_tissue_region`)
    when a liver mask is given, else the flat part of the soft tissue
    (:func:`reactkd.dose.flat_region.flat_region`), where anatomy does not pass for noise."""
    if liver is not None:
        return soft_tissue_region(hu, liver, tumor)
    return flat_region(hu, soft_tissue_region(hu), spacing)


def estimate_acquisition(hu: np.ndarray, spacing: tuple[float, float, float], region: np.ndarray,
                         kernel: str = "hann", reference_fluence: float = FLUENCE) -> tuple[Acquisition, float]:
    r"""The acquisition (fluence, with ``kernel``) whose scanner-model noise in ``region`` matches the image's.

    Runs the simulator at dose 1/2 and :math:`\Phi_r` on up to 8 slices richest in ``region`` (slices are
    independent in the parallel-beam model) and measures the added noise with :func:`measure_noise_std`.

    Returns:
        ``(acquisition, sigma)``: the estimated :class:`Acquisition` and the measured image noise (HU).

    Raises:
        ValueError: if the region is too small or the image shows no noise at all.
    """
    sigma = measure_noise_std(hu, region, spacing)
    if not sigma > 0:
        raise ValueError("the CT shows no noise in the noise region (synthetic or denoised?): "
                         "give its fluence instead.")
    per_slice = region.sum(axis=(1, 2))
    picked = np.sort(np.argsort(per_slice)[::-1][: _CALIBRATION_SLICES])
    picked = picked[per_slice[picked] > 0]
    sub_hu = np.ascontiguousarray(hu[picked], dtype=np.float32)
    reference = Acquisition(fluence=reference_fluence, kernel=kernel)
    sim = LowDoseSimulator.for_acquisition(reference)
    added = sim.simulate_array(sub_hu, spacing, 0.5, seed=12345) - sub_hu
    sigma_ref = measure_noise_std(added, region[picked], spacing)
    return Acquisition(fluence=reference_fluence * (sigma_ref / sigma) ** 2, kernel=kernel), sigma


def acquisition_of(ct_path: str | os.PathLike | None, hu: np.ndarray, spacing: tuple[float, float, float],
                   liver: np.ndarray | None = None, tumor: np.ndarray | None = None) -> tuple[Acquisition, str]:
    """The acquisition a low-dose simulation of this CT must assume, and where it came from.

    The CT's sidecar (:func:`reactkd.dose.acquisition.read_acquisition`) when it has one (``"declared"``),
    else :func:`estimate_acquisition` from the noise in the liver (``"estimated from liver noise"``) or,
    without a liver mask, in the flat soft tissue (``"estimated from soft tissue noise, flat regions"``).
    """
    declared = read_acquisition(ct_path) if ct_path is not None else None
    if declared is not None:
        return declared, "declared"
    estimated, sigma = estimate_acquisition(hu, spacing, noise_region(hu, spacing, liver, tumor))
    if liver is None:
        return estimated, f"estimated from soft tissue noise, flat regions ({sigma:.1f} HU)"
    return estimated, f"estimated from liver noise ({sigma:.1f} HU)"
