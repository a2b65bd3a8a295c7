"""Attention transfer (Zagoruyko & Komodakis 2017) for 3D feature maps of different resolutions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["attention_map", "attention_transfer_loss"]


def attention_map(features: torch.Tensor, p: float = 2.0, size: tuple[int, int, int] | None = None) -> torch.Tensor:
    """Spatial attention ``mean_c |F_c|^p``, optionally resized, flattened and L2-normalised.

    Args:
        features: ``(B, C, d, h, w)``.
        p: exponent. Default 2 (the paper's choice).
        size: resize the ``(B, 1, d, h, w)`` map to this size (trilinear) before flattening, so that
            maps of student and teacher levels with different resolutions can be compared.

    Returns:
        ``(B, d·h·w)`` unit-norm rows.
    """
    if features.ndim != 5:
        raise ValueError(f"`features` must be (B, C, d, h, w), got {tuple(features.shape)}.")
    att = features.abs().pow(p).mean(1, keepdim=True)
    if size is not None and tuple(att.shape[-3:]) != tuple(size):
        att = F.interpolate(att, size=tuple(size), mode="trilinear", align_corners=False)
    return F.normalize(att.flatten(1), dim=1)


def attention_transfer_loss(student: torch.Tensor, teacher: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Mean squared difference of normalised attention maps (mdistiller's form of AT).

    .. math:: \\mathcal{L}_{AT} = \\mathrm{mean}\\big(Q_s/\\|Q_s\\|_2 - Q_t/\\|Q_t\\|_2\\big)^2,
        \\quad Q = \\mathrm{mean}_c |F_c|^p

    The student's map is resized to the teacher's resolution; channel counts may differ.

    Args:
        student: ``(B, Cs, ds, hs, ws)``.
        teacher: ``(B, Ct, dt, ht, wt)``.
        p: exponent. Default 2.

    Returns:
        Scalar.

    Raises:
        ValueError: if the inputs are not 5-D with one batch size.

    References:
        Zagoruyko, Komodakis. "Paying More Attention to Attention: Improving the Performance of
        Convolutional Neural Networks via Attention Transfer". ICLR 2017.
    """
    if student.ndim != 5 or teacher.ndim != 5 or student.shape[0] != teacher.shape[0]:
        raise ValueError(
            f"expected (B, C, d, h, w) maps with one B, got {tuple(student.shape)} and {tuple(teacher.shape)}."
        )
    q_t = attention_map(teacher.to(student.dtype), p)
    q_s = attention_map(student, p, size=tuple(teacher.shape[-3:]))
    return (q_s - q_t).pow(2).mean()
