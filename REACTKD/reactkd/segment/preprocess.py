"""Mask-free preprocessing for segmentation: the whole CT on an isotropic grid, HU window scaled to [−1, 1].

The grading pipeline centres its model grid on the liver mask; a segmentation model has no mask to
centre on, so it sees the whole scan resampled to ``spacing_mm`` (axes follow the CT's direction, the
grid covers the CT's field of view edge to edge). Intensities are clipped to the abdominal HU window
(:data:`reactkd.preprocess.intensity.HU_WINDOW`) and scaled linearly to [−1, 1]: a fixed mapping rather
than a z-score, because a z-score over a whole scan depends on how much air and table it covers.
Predictions come back to the CT's own grid by nearest-neighbour resampling of the label map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from reactkd.io.geometry import resample_to
from reactkd.preprocess.intensity import HU_WINDOW

__all__ = ["SegPreprocess", "seg_reference", "ct_to_input", "labels_on_grid", "labels_to_ct"]


@dataclass(frozen=True)
class SegPreprocess:
    spacing_mm: float = 4.0
    hu_window: tuple[float, float] = HU_WINDOW

    def __post_init__(self) -> None:
        if not self.spacing_mm > 0:
            raise ValueError(f"`spacing_mm` must be > 0, got {self.spacing_mm!r}.")
        lo, hi = self.hu_window
        if not hi > lo:
            raise ValueError(f"`hu_window` must be (low, high) with high > low, got {self.hu_window}.")

    def to_dict(self) -> dict:
        return {"spacing_mm": float(self.spacing_mm), "hu_window": [float(v) for v in self.hu_window]}

    @classmethod
    def from_dict(cls, d: dict) -> "SegPreprocess":
        return cls(float(d["spacing_mm"]), tuple(float(v) for v in d["hu_window"]))


def seg_reference(ct: sitk.Image, spacing_mm: float) -> sitk.Image:
    """An empty float image on the isotropic grid covering ``ct``'s field of view (same direction)."""
    size = np.asarray(ct.GetSize(), float)
    spacing = np.asarray(ct.GetSpacing(), float)
    extent = size * spacing
    new_size = np.maximum(np.ceil(extent / spacing_mm - 1e-6), 2).astype(int)
    direction = np.asarray(ct.GetDirection(), float).reshape(3, 3)
    # First voxel edge on the CT's first voxel edge: centre = edge + half a new voxel.
    edge = np.asarray(ct.GetOrigin(), float) - direction @ (spacing / 2)
    ref = sitk.Image(new_size.tolist(), sitk.sitkFloat32)
    ref.SetSpacing([float(spacing_mm)] * 3)
    ref.SetDirection(ct.GetDirection())
    ref.SetOrigin((edge + direction @ np.full(3, spacing_mm / 2)).tolist())
    return ref


def ct_to_input(ct: sitk.Image, config: SegPreprocess) -> tuple[np.ndarray, sitk.Image]:
    """The network input ``(D, H, W)`` float32 in [−1, 1] and the grid it lives on."""
    ref = seg_reference(ct, config.spacing_mm)
    lo, hi = config.hu_window
    # Clip before resampling so that bone/air edges do not bleed into soft tissue through interpolation.
    clipped = sitk.Clamp(sitk.Cast(ct, sitk.sitkFloat32), sitk.sitkFloat32, lo, hi)
    hu = sitk.GetArrayFromImage(resample_to(clipped, ref, sitk.sitkLinear, lo, sitk.sitkFloat32))
    return ((hu - lo) / (hi - lo) * 2.0 - 1.0).astype(np.float32), ref


def labels_on_grid(liver: sitk.Image, tumor: sitk.Image, reference: sitk.Image) -> np.ndarray:
    """``(D, H, W)`` uint8 labels on ``reference``: 0 background, 1 liver parenchyma, 2 tumour.

    The liver class is (liver ∪ tumour) − tumour, so a liver mask with or without its tumours (LiTS
    label 1 vs this project's masks) gives the same labels.
    """
    liver_a = sitk.GetArrayFromImage(resample_to(liver, reference, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
    tumor_a = sitk.GetArrayFromImage(resample_to(tumor, reference, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)) > 0
    labels = np.zeros(liver_a.shape, np.uint8)
    labels[liver_a] = 1
    labels[tumor_a] = 2
    return labels


def labels_to_ct(labels: np.ndarray, reference: sitk.Image, ct: sitk.Image) -> sitk.Image:
    """A label map computed on ``reference`` brought onto the CT's grid (nearest neighbour, uint8)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(labels.astype(np.uint8)))
    image.CopyInformation(reference)
    return resample_to(image, ct, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
