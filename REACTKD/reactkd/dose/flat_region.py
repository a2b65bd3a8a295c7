r"""Flat soft tissue: the voxels of a CT's soft tissue around which the anatomy is locally uniform.

Image noise measured over all soft tissue takes anatomy for noise: organ boundaries, bowel and its wall,
mesenteric vessels and partial-volume fat all raise the spread of HU around a smooth trend. Clinical
"global noise" measurement (Christianson, Winslow, Frush & Samei, "Automated technique to measure noise
in clinical CT examinations", AJR 205(1):W93-W99, 2015) answers this with a map of the local standard
deviation in small windows over soft tissue: anatomy only adds to a window's spread, so the *mode* of
that map's histogram, their global noise level (GNL), is the noise of the many windows that hold no
structure. This module uses the GNL as a yardstick, not as the estimate:

1. local SD :math:`s(v)` of HU in the in-plane square window of :data:`WINDOW_MM` (odd, at least
   :data:`MIN_WINDOW_PX` pixels; slices are independent in the project's scanner model and often thick),
   unbiased (:math:`n/(n-1)`) over the window's :math:`n` pixels;
2. :math:`\mathrm{GNL}` = the mode of :math:`s` over the given soft-tissue voxels, found as the peak of
   a Gaussian kernel density of :math:`\ln s` (bandwidth :data:`MODE_BANDWIDTH`, i.e. 5 %);
3. flat = soft tissue where :math:`s(v) \le \kappa\,\mathrm{GNL}`, :math:`\kappa` = :data:`FLAT_FACTOR`,
   eroded by one voxel in-plane (as the liver is: a window that only grazes an edge stays under the
   threshold, and the voxels next to the dropped band are the ones the in-plane trend mixes with the
   tissue beyond it).

The noise is then measured in the flat voxels by the same statistic as in a liver
(:func:`reactkd.dose.noise_estimate.measure_noise_std`: robust SD of HU minus its smooth in-plane trend),
so it is a voxel SD in HU, and the simulator's reference noise is measured in the same voxels.

Correction factors and biases (why no factor is applied):

- The GNL itself is biased low (the mode of a window SD of :math:`k = n-1` degrees of freedom is
  :math:`\sigma\sqrt{(k-1)/k}` for white noise, 1 % at :math:`n = 25`, more for CT's correlated noise,
  whose effective :math:`k` is smaller); it only sets the threshold, so its bias only moves
  :math:`\kappa`.
- Dropping the windows above :math:`\kappa\,\mathrm{GNL}` also drops the windows where pure noise
  happened to be high (and the erosion their neighbours), which biases the SD low. For white noise,
  :math:`s` has a relative SD of about :math:`1/\sqrt{2(n-1)}` (14 % at :math:`n = 25`), so
  :math:`\kappa = 1.5` lies 3.5 SD out; CT noise is correlated, has fewer effective degrees of freedom
  per window and loses more. Measured on the scanner model's noise (a water cylinder scanned twice at
  3, 2 and 1 mm pixels, windows of 5, 9 and 15 pixels; the region chosen on one scan, the SD compared
  with the other scan's in the same voxels): -4.3 %, -2.0 % and -0.8 %
  (``benchmarks/bench_noise_estimate.py``). Left uncorrected: it is smaller than the anatomy it removes,
  and on the real 3 mm CT the two leave the estimate 0.6 % above the liver's.
- A step of :math:`\Delta` HU across a window raises its SD to about
  :math:`\sqrt{\sigma^2 + p(1-p)\Delta^2}` (:math:`p`: the window's share beyond the step), so a window is
  flagged when :math:`p(1-p) > (\kappa^2 - 1)\,\sigma^2/\Delta^2`: a 40 HU step at 10 HU noise
  excludes the voxels within about 0.4 window (6 mm) of it.

Limits: the flat voxels must be the commonest kind of soft tissue (organ interiors, muscle) for the mode
to be theirs, which holds for abdominal CT; as :math:`p(1-p) \le 1/4`, a step is only flagged when
:math:`\Delta > 2\sqrt{\kappa^2-1}\,\sigma \approx 2.2\,\sigma`, so at low contrast-to-noise some
anatomy is still read as noise (a synthetic abdomen with 15-30 HU steps scanned at about 20 HU of
noise: fluence 0.75 x the declared one; at 4 HU, ``Testing/core/test_dose_flat_region.py``: 0.98 x);
homogeneous tissue with a different noise level from the rest (a bowtie filter raises peripheral noise,
which the parallel-beam model does not) is kept or dropped as a whole by its local SD.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["FLAT_FACTOR", "MIN_WINDOW_PX", "MODE_BANDWIDTH", "WINDOW_MM",
           "flat_region", "local_std", "noise_level_mode", "window_px"]

WINDOW_MM = 15.0
"""Side of the local-SD window: wide enough to hold tens of independent noise samples, narrow enough to fit
inside organs."""
MIN_WINDOW_PX = 5
"""At least 5 x 5 pixels, so a coarse (3 mm) CT's window still has the degrees of freedom for a stable SD."""
FLAT_FACTOR = 1.5
"""A window is flat when its SD is at most this multiple of the global noise level."""
MODE_BANDWIDTH = 0.05
"""Gaussian kernel width in ln(SD) for the histogram mode (5 % of the SD)."""


def window_px(spacing: tuple[float, float, float]) -> int:
    """Odd in-plane window side in pixels for :data:`WINDOW_MM` at the CT's in-plane pixel size (mm)."""
    pixel = float(np.sqrt(spacing[1] * spacing[2]))
    return max(MIN_WINDOW_PX, round(WINDOW_MM / pixel) | 1)


def local_std(hu: np.ndarray, window: int, slices: np.ndarray | None = None) -> np.ndarray:
    """``(Z, Y, X)`` unbiased SD of HU in the ``window`` x ``window`` in-plane square around each voxel.

    Computed slice by slice in float64 (the variance of a few HU next to values of -1000 would lose its
    digits in float32); edge pixels reflect the image. ``slices``: indices to compute (default all; the
    others are 0).
    """
    out = np.zeros(hu.shape, np.float32)
    n = window * window
    for z in range(hu.shape[0]) if slices is None else slices:
        x = hu[z].astype(np.float64)
        mean = ndimage.uniform_filter(x, window, mode="reflect")
        square = ndimage.uniform_filter(x * x, window, mode="reflect")
        out[z] = np.sqrt(np.maximum(square - mean * mean, 0.0) * n / (n - 1))
    return out


def noise_level_mode(values: np.ndarray) -> float:
    r"""The mode of positive local SDs: the peak of a Gaussian kernel density of their logarithm.

    A histogram of :math:`\ln s` in bins of a tenth of :data:`MODE_BANDWIDTH`, smoothed with a Gaussian of
    :data:`MODE_BANDWIDTH`; 0.0 when no value is positive (a noise-free image).
    """
    values = np.asarray(values, np.float64)
    logs = np.log(values[values > 0])
    if logs.size == 0:
        return 0.0
    lo, hi = np.quantile(logs, [0.001, 0.999])
    step = MODE_BANDWIDTH / 10
    edges = lo + step * np.arange(int(np.ceil((hi - lo) / step)) + 2)
    counts, _ = np.histogram(logs, edges)
    density = ndimage.gaussian_filter1d(counts.astype(np.float64), 10.0, mode="constant")
    peak = int(np.argmax(density))
    return float(np.exp(0.5 * (edges[peak] + edges[peak + 1])))


def flat_region(hu: np.ndarray, soft: np.ndarray, spacing: tuple[float, float, float]) -> np.ndarray:
    """The voxels of ``soft`` whose local SD is at most :data:`FLAT_FACTOR` x the global noise level, eroded
    by one voxel in-plane.

    Args:
        hu: ``(Z, Y, X)`` HU. soft: boolean ``(Z, Y, X)`` soft-tissue mask (where the noise may be read).
        spacing: ``(s_z, s_y, s_x)`` mm.

    Returns:
        Boolean ``(Z, Y, X)`` mask inside ``soft`` (empty when ``soft`` is).
    """
    soft = np.asarray(soft, bool)
    if soft.shape != hu.shape:
        raise ValueError(f"soft-tissue mask shape {soft.shape} does not match the CT's {hu.shape}.")
    if not soft.any():
        return soft.copy()
    sd = local_std(hu, window_px(spacing), np.flatnonzero(soft.any(axis=(1, 2))))
    flat = soft & (sd <= FLAT_FACTOR * noise_level_mode(sd[soft]))
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = True  # the 3 x 3 in-plane square, as for the liver
    return ndimage.binary_erosion(flat, in_plane, iterations=1)
