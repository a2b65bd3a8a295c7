"""Array helpers."""

from __future__ import annotations

import numpy as np

__all__ = ["bounding_box"]


def bounding_box(mask: np.ndarray, pad: int = 0) -> tuple[slice, ...] | None:
    """Slices of the smallest box holding all non-zero voxels, grown by ``pad`` (clipped); None if empty."""
    slices = []
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        if hits.size == 0:
            return None
        slices.append(slice(max(hits[0] - pad, 0), min(hits[-1] + 1 + pad, mask.shape[axis])))
    return tuple(slices)
