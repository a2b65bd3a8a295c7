"""ROI-aware, scale-normalised weighting of a feature-distillation loss (MS-SARD core, ReCo-KD)."""

from __future__ import annotations

import torch

from reactkd.graph.pooling import area_resize

__all__ = ["region_weight_map", "region_weighted_feature_loss"]


def region_weight_map(
    roi_masks: torch.Tensor,
    roi_valid: torch.Tensor,
    spatial_size: tuple[int, int, int] | torch.Size,
    background_weight: float = 0.1,
    roi_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-voxel weights in which every ROI has the same total weight whatever its volume.

    Each real ROI's area-resized mask is divided by its own volume (scale normalisation: a 1 cm³ tumour
    counts as much as the liver); the background (1 − union) gets ``background_weight`` in total.
    The map is then normalised to sum to 1 per case.

    Args:
        roi_masks: ``(B, R, D, H, W)`` masks in [0, 1].
        roi_valid: ``(B, R)`` bool.
        spatial_size: ``(d, h, w)`` of the feature level.
        background_weight: total weight of the background relative to one ROI. Default 0.1, so
            context still contributes without drowning the ROIs.
        roi_weights: optional ``(R,)`` total weight of each ROI channel (default 1 each); segmentation
            distillation uses it to weight classes (e.g. liver vs tumour) while keeping each class's
            share independent of its volume.

    Returns:
        ``(B, 1, d, h, w)`` non-negative, each case summing to 1.

    Raises:
        ValueError: for a negative ``background_weight``, negative or mis-sized ``roi_weights``, or a
            ``roi_valid`` shape mismatch.
    """
    if roi_weights is not None and (roi_weights.shape != roi_masks.shape[1:2] or bool((roi_weights < 0).any())):
        raise ValueError(f"`roi_weights` must be {roi_masks.shape[1]} non-negative values, got {roi_weights.tolist()}.")
    if background_weight < 0:
        raise ValueError(f"`background_weight` must be >= 0, got {background_weight!r}.")
    if roi_valid.shape != roi_masks.shape[:2]:
        raise ValueError(f"`roi_valid` must be {tuple(roi_masks.shape[:2])}, got {tuple(roi_valid.shape)}.")
    m = area_resize(roi_masks, spatial_size) * roi_valid[..., None, None, None].to(roi_masks.dtype)
    per_roi = m / m.flatten(2).sum(-1)[..., None, None, None].clamp_min(1e-6)
    if roi_weights is not None:
        per_roi = per_roi * roi_weights.to(per_roi)[None, :, None, None, None]
    bg = (1.0 - m.sum(1, keepdim=True)).clamp_min(0.0)
    bg = background_weight * bg / bg.flatten(1).sum(-1)[:, None, None, None, None].clamp_min(1e-6)
    w = per_roi.sum(1, keepdim=True) + bg
    return w / w.flatten(1).sum(-1)[:, None, None, None, None].clamp_min(1e-12)


def region_weighted_feature_loss(student: torch.Tensor, teacher: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``Σ_v w_v · mean_c (s_v − t_v)²`` averaged over the batch.

    Args:
        student: ``(B, C, d, h, w)`` student map projected to the teacher's width.
        teacher: ``(B, C, d, h, w)``.
        weights: ``(B, 1, d, h, w)`` from :func:`region_weight_map` (summing to 1 per case).

    Returns:
        Scalar.

    Raises:
        ValueError: for mismatched shapes.
    """
    if student.shape != teacher.shape or weights.shape != (student.shape[0], 1, *student.shape[2:]):
        raise ValueError(
            f"`student` {tuple(student.shape)}, `teacher` {tuple(teacher.shape)} and `weights` "
            f"{tuple(weights.shape)} must agree (weights (B, 1, d, h, w))."
        )
    err = (student - teacher.to(student.dtype)).pow(2).mean(1, keepdim=True)
    return (err * weights.to(err.dtype)).flatten(1).sum(1).mean()
