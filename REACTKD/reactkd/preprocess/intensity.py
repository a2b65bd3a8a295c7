"""Intensity normalisation (paper §III-B), on arrays already sampled to the model grid.

Statistics (mean, std, percentiles) are taken over the model grid's field of view, not the whole scan:
this makes a case's normalisation independent of how much body the scan covers (a whole-body PET's
99th percentile is the bladder or brain, which would squash liver contrast).
"""

from __future__ import annotations

import numpy as np

__all__ = ["HU_WINDOW", "PET_PERCENTILES", "zscore", "normalize_ct", "normalize_pet"]

HU_WINDOW = (-160.0, 240.0)
"""Abdominal soft-tissue window in HU (authors' configuration): liver ~50–70 HU and enhancing or
hypodense lesions sit well inside it, bone and air saturate."""

PET_PERCENTILES = (1.0, 99.0)


def zscore(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``(x - mean) / std`` over the whole array; a constant array maps to zeros."""
    x = x.astype(np.float32, copy=False)
    std = float(x.std())
    return (x - float(x.mean())) / std if std > eps else np.zeros_like(x)


def normalize_ct(hu: np.ndarray, window: tuple[float, float] = HU_WINDOW) -> np.ndarray:
    """Clip to the HU window, then z-score.

    Raises:
        ValueError: if the window is empty.
    """
    lo, hi = window
    if not hi > lo:
        raise ValueError(f"`hu_window` must be (low, high) with high > low, got {window}.")
    return zscore(np.clip(hu, lo, hi))


def normalize_pet(pet: np.ndarray, percentiles: tuple[float, float] = PET_PERCENTILES) -> np.ndarray:
    """Clip to the given percentiles, min–max scale to [0, 1], then z-score.

    Min–max before z-score changes nothing after the z-score (both are affine); we keep it because the
    paper specifies it and it makes the clip's effect explicit in intermediate outputs.
    """
    lo_p, hi_p = percentiles
    if not 0 <= lo_p < hi_p <= 100:
        raise ValueError(f"`pet_percentiles` must satisfy 0 <= low < high <= 100, got {percentiles}.")
    lo, hi = np.percentile(pet, [lo_p, hi_p])
    clipped = np.clip(pet, lo, hi).astype(np.float32)
    scaled = (clipped - lo) / (hi - lo) if hi > lo else np.zeros_like(clipped)
    return zscore(scaled)
