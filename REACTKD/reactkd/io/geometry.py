"""World-space geometry helpers: compare grids, resample onto a reference, measure overlap."""

from __future__ import annotations

import itertools

import numpy as np
import SimpleITK as sitk

__all__ = ["same_grid", "resample_to", "world_corners", "overlap_fraction", "foreground_world_box", "boxes_intersect"]


def same_grid(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> bool:
    """True if ``a`` and ``b`` share size, spacing, origin and direction (to ``tol``, in mm / unitless)."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tol)
        and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol * 10)
        and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol)
    )


def resample_to(
    image: sitk.Image,
    reference: sitk.Image,
    interpolator: int = sitk.sitkLinear,
    default_value: float = 0.0,
    pixel_type: int | None = None,
) -> sitk.Image:
    """Resample ``image`` onto ``reference``'s grid in world space (identity transform).

    Args:
        image: the image to move.
        reference: the target grid (its pixels are ignored).
        interpolator: ``sitk.sitkLinear`` for intensities, ``sitk.sitkNearestNeighbor`` for labels.
        default_value: value outside ``image``'s field of view.
        pixel_type: output pixel type (default: ``image``'s).

    Returns:
        ``image`` unchanged if it is already on ``reference``'s grid (and of the requested type), else a
        new image with ``reference``'s geometry.
    """
    out_type = image.GetPixelID() if pixel_type is None else pixel_type
    if same_grid(image, reference) and image.GetPixelID() == out_type:
        return image
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, default_value, out_type)


def world_corners(image: sitk.Image, lo=None, hi=None) -> np.ndarray:
    """The 8 corners of ``image``'s voxel-edge bounding box in world LPS mm, shape ``(8, 3)``; with
    ``lo``/``hi`` (inclusive voxel indices, x-y-z order) the box of that index range only."""
    lo = np.zeros(3) if lo is None else np.asarray(lo, dtype=float)
    hi = np.asarray(image.GetSize(), dtype=float) - 1 if hi is None else np.asarray(hi, dtype=float)
    corners = []
    for c in itertools.product(*[(a - 0.5, b + 0.5) for a, b in zip(lo, hi)]):
        corners.append(image.TransformContinuousIndexToPhysicalPoint([float(x) for x in c]))
    return np.asarray(corners)


def overlap_fraction(image: sitk.Image, reference: sitk.Image) -> float:
    """Fraction of ``reference``'s world bounding box covered by ``image``'s (axis-aligned in world).

    A cheap test for "this PET/mask belongs to another scan or another frame of reference".
    """
    a, b = world_corners(image), world_corners(reference)
    lo = np.maximum(a.min(0), b.min(0))
    hi = np.minimum(a.max(0), b.max(0))
    inter = np.prod(np.clip(hi - lo, 0, None))
    ref_vol = np.prod(b.max(0) - b.min(0))
    return float(inter / ref_vol) if ref_vol > 0 else 0.0


def foreground_world_box(mask: sitk.Image) -> tuple[np.ndarray, np.ndarray] | None:
    """The world axis-aligned box ``(lo, hi)`` (LPS mm) of ``mask``'s non-zero voxels, None if it has none."""
    array = sitk.GetArrayViewFromImage(mask)  # (z, y, x)
    hits = np.argwhere(array != 0)
    if hits.size == 0:
        return None
    corners = world_corners(mask, hits.min(0)[::-1], hits.max(0)[::-1])
    return corners.min(0), corners.max(0)


def boxes_intersect(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """True if two world boxes ``(lo, hi)`` share a volume (touching faces do not count)."""
    return bool(np.all(np.minimum(a[1], b[1]) - np.maximum(a[0], b[0]) > 0))
