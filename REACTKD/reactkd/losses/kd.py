"""Logit distillation: temperature-softened KL divergence (Hinton et al. 2015)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.utils import LossReduction

__all__ = ["kd_loss", "multi_teacher_kd_loss", "KDLoss"]


def _check_pair(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> None:
    if student_logits.ndim != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"`student_logits` and `teacher_logits` must both be (B, K), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}."
        )


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0, got {temperature!r}.")


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 2.0,
    reduction: LossReduction | str = LossReduction.MEAN,
) -> torch.Tensor:
    """KL(softmax(t/T) ‖ softmax(s/T)) · T².

    .. math:: \\mathcal{L}_{KD} = T^2 \\sum_k q_k \\log\\frac{q_k}{p_k},\\quad
        q = \\mathrm{softmax}(z_t/T),\\; p = \\mathrm{softmax}(z_s/T)

    The T² factor keeps gradient magnitudes comparable across temperatures (Hinton et al.).

    Args:
        student_logits: ``(B, K)``.
        teacher_logits: ``(B, K)``; detached by the caller if the teacher is frozen.
        temperature: T > 0. Default 2: with only 3 grades, larger T flattens the teacher's
            distribution towards uniform and erases the ranking between the non-target grades that
            carries the "dark knowledge"; T = 4 (mdistiller's CIFAR-100 default) suits 100 classes.
        reduction: ``"mean"`` (KL summed over classes, averaged over the batch, i.e. ``batchmean``),
            ``"sum"`` or ``"none"`` (per case, ``(B,)``).

    Returns:
        Scalar or ``(B,)``; 0 when the logits match.

    Raises:
        ValueError: for mismatched shapes or ``temperature`` <= 0.

    References:
        Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural Network". NIPS DL workshop 2015.
    """
    _check_pair(student_logits, teacher_logits)
    _check_temperature(temperature)
    reduction = LossReduction(reduction)
    log_p = F.log_softmax(student_logits / temperature, dim=1)
    log_q = F.log_softmax(teacher_logits / temperature, dim=1)
    per_case = (log_q.exp() * (log_q - log_p)).sum(1) * temperature**2
    if reduction is LossReduction.MEAN:
        return per_case.mean()
    return per_case.sum() if reduction is LossReduction.SUM else per_case


def multi_teacher_kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: list[torch.Tensor],
    weights: torch.Tensor | None = None,
    temperature: float = 2.0,
) -> torch.Tensor:
    """Weighted sum over teachers of per-case :func:`kd_loss`, averaged over the batch.

    Args:
        student_logits: ``(B, K)``.
        teacher_logits: ``M`` tensors ``(B, K)``.
        weights: ``(B, M)`` per-case teacher weights (rows summing to 1), or None for ``1/M``.
        temperature: T > 0. Default 2.

    Returns:
        Scalar.

    Raises:
        ValueError: for no teachers, mismatched shapes or a wrong ``weights`` shape.
    """
    if not teacher_logits:
        raise ValueError("`teacher_logits` must hold at least one teacher's logits, got an empty list.")
    per = torch.stack([kd_loss(student_logits, t, temperature, "none") for t in teacher_logits], dim=1)
    if weights is None:
        return per.mean(1).mean()
    if weights.shape != per.shape:
        raise ValueError(f"`weights` must be {tuple(per.shape)} (B, M), got {tuple(weights.shape)}.")
    return (weights.to(per.dtype) * per).sum(1).mean()


class KDLoss(nn.Module):
    """Module form of :func:`kd_loss`.

    Args:
        temperature: T > 0. Default 2.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Raises:
        ValueError: for ``temperature`` <= 0 or an unknown ``reduction``.

    Example:
        >>> float(KDLoss()(torch.zeros(2, 3), torch.zeros(2, 3)))
        0.0
    """

    def __init__(self, temperature: float = 2.0, reduction: LossReduction | str = LossReduction.MEAN) -> None:
        super().__init__()
        _check_temperature(temperature)
        self.temperature = float(temperature)
        self.reduction = LossReduction(reduction)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        """``(B, K)`` and ``(B, K)`` → loss."""
        return kd_loss(student_logits, teacher_logits, self.temperature, self.reduction)
