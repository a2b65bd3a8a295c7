"""MS-SARD (ReCo-KD): a feature-distillation error weighted per voxel by ROI-aware, scale-normalised maps.

ReCo-KD's multi-scale structure-aware region distillation matches, at several levels ``l``, the student's
map (projected to the teacher's width) to the teacher's by a squared error in which every region (class
or ROI) carries a fixed total weight whatever its volume:

.. math:: \\mathcal{L}_{SARD} = \\sum_l \\alpha_l \\sum_v w_{l,v}\\,\\mathrm{mean}_c (s_{l,cv} - t_{l,cv})^2

with :func:`region_weight_map` giving ``w`` and ``α`` the scale weights. The classification baseline
(:class:`~reactkd.distill.reco.MSSARD`, ROI masks) and the segmentation distiller
(:mod:`reactkd.segment.distill`, class masks from labels, maps in the teacher's RMS units) both call
:func:`ms_sard_loss`.

References:
    ReCo-KD: Region- and Context-aware Knowledge Distillation for efficient 3D medical image
    segmentation (2026).
"""

from __future__ import annotations

from typing import Sequence

import torch

from reactkd.graph.pooling import area_resize
from reactkd.losses.multiscale import resize_to, scale_sum

__all__ = ["region_weight_map", "region_weighted_feature_loss", "in_teacher_rms_units", "ms_sard_loss"]


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


def in_teacher_rms_units(student: torch.Tensor, teacher: torch.Tensor,
                         eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Both maps divided by the teacher map's root mean square per case.

    Raw decoder activations differ by orders of magnitude between levels and networks; in these units the
    scale weights of :func:`ms_sard_loss` mean what they say.

    Args:
        student, teacher: ``(B, C, d, h, w)`` (the student's spatial size may differ).
        eps: floor of the RMS (an all-zero teacher map). Default 1e-6.

    Returns:
        ``(student / rms, teacher / rms)`` with ``rms`` ``(B, 1, 1, 1, 1)``.
    """
    rms = teacher.pow(2).mean(dim=(1, 2, 3, 4), keepdim=True).sqrt().clamp_min(eps)
    return student / rms, teacher / rms


def ms_sard_loss(
    students: Sequence[torch.Tensor],
    teachers: Sequence[torch.Tensor],
    weight_maps: Sequence[torch.Tensor],
    scale_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """MS-SARD over levels (see module doc): ``Σ_l α_l · region_weighted_feature_loss(s_l, t_l, w_l)``.

    Args:
        students: per level ``(B, C_l, d_s, h_s, w_s)`` student maps already projected to the teacher's
            width ``C_l``; resized trilinearly to the teacher's size where it differs.
        teachers: per level ``(B, C_l, d, h, w)``.
        weight_maps: per level ``(B, 1, d, h, w)`` from :func:`region_weight_map`.
        scale_weights: ``α_l`` as given (e.g. summing to 1); None = the plain mean over levels.

    Returns:
        Scalar.

    Raises:
        ValueError: for lists of different lengths, an empty list, or mismatched shapes.
    """
    if not (len(students) == len(teachers) == len(weight_maps)) or not students:
        raise ValueError(f"need one student map, teacher map and weight map per level, got {len(students)}, "
                         f"{len(teachers)} and {len(weight_maps)}.")
    levels = [region_weighted_feature_loss(resize_to(s, t.shape[-3:]), t, w)
              for s, t, w in zip(students, teachers, weight_maps)]
    return scale_sum(levels, scale_weights)
