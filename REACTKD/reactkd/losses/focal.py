"""Multi-class focal loss with per-class α for the grade imbalance."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.utils import LossReduction

__all__ = ["DEFAULT_GRADE_ALPHA", "softmax_focal_loss", "FocalLoss"]

DEFAULT_GRADE_ALPHA = (1.5, 1.0, 2.0)
"""Per-grade α (grades 1/2/3): grade 2 is the majority in HCC cohorts; grade 3 is both rarer and the
costliest to miss, so it gets the largest weight, grade 1 an intermediate one."""


def _check_logits_target(logits: torch.Tensor, target: torch.Tensor) -> None:
    if logits.ndim != 2:
        raise ValueError(f"`logits` must be (B, K), got shape {tuple(logits.shape)}.")
    if target.shape != logits.shape[:1] or target.dtype != torch.int64:
        raise ValueError(
            f"`target` must be int64 of shape ({logits.shape[0]},), got {tuple(target.shape)} {target.dtype}."
        )
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
        raise ValueError(f"`target` values must be in [0, {logits.shape[1] - 1}], got {target.tolist()}.")


def softmax_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    alpha: torch.Tensor | Sequence[float] | None = DEFAULT_GRADE_ALPHA,
    reduction: LossReduction | str = LossReduction.MEAN,
) -> torch.Tensor:
    """Focal loss over a softmax (Lin et al. 2017), one α per class.

    .. math:: \\ell_b = -\\alpha_{y_b}\\,(1 - p_{b,y_b})^{\\gamma}\\,\\log p_{b,y_b}

    With ``gamma=0`` and ``alpha=None`` it equals cross-entropy.

    Args:
        logits: ``(B, K)`` unnormalised scores.
        target: ``(B,)`` int64 class indices in ``[0, K)``.
        gamma: focusing exponent ≥ 0. Default 2 (Lin et al.'s best value; down-weights the many
            easy grade-2 cases by (1-p)², 1/100 at p = 0.9).
        alpha: ``K`` class weights or None (all 1). Default :data:`DEFAULT_GRADE_ALPHA`.
        reduction: ``"mean"`` (plain mean over the batch, not divided by Σα), ``"sum"`` or ``"none"``.

    Returns:
        Scalar, or ``(B,)`` for ``"none"``.

    Raises:
        ValueError: for bad shapes/dtypes, targets out of range, ``gamma`` < 0 or ``alpha`` of wrong length.

    References:
        Lin, Goyal, Girshick, He, Dollár. "Focal Loss for Dense Object Detection". ICCV 2017.
    """
    _check_logits_target(logits, target)
    if gamma < 0:
        raise ValueError(f"`gamma` must be >= 0, got {gamma!r}.")
    reduction = LossReduction(reduction)
    logp = F.log_softmax(logits, dim=1).gather(1, target[:, None])[:, 0]
    loss = -((1.0 - logp.exp()).clamp_min(0) ** gamma) * logp
    if alpha is not None:
        a = torch.as_tensor(alpha, dtype=logits.dtype, device=logits.device)
        if a.shape != (logits.shape[1],):
            raise ValueError(f"`alpha` needs {logits.shape[1]} entries (one per class), got {tuple(a.shape)}.")
        loss = loss * a[target]
    if reduction is LossReduction.MEAN:
        return loss.mean()
    if reduction is LossReduction.SUM:
        return loss.sum()
    return loss


class FocalLoss(nn.Module):
    """Module form of :func:`softmax_focal_loss`; α is a buffer so ``.to(device)`` moves it.

    Args:
        gamma: focusing exponent. Default 2.
        alpha: per-class weights or None. Default ``(1.5, 1.0, 2.0)``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Raises:
        ValueError: for ``gamma`` < 0, non-positive α, or an unknown ``reduction``.

    Example:
        >>> FocalLoss()(torch.zeros(2, 3), torch.tensor([0, 2])).item()  # doctest: +ELLIPSIS
        0.8544...
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Sequence[float] | None = DEFAULT_GRADE_ALPHA,
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"`gamma` must be >= 0, got {gamma!r}.")
        self.gamma = float(gamma)
        self.reduction = LossReduction(reduction)
        if alpha is not None:
            a = torch.as_tensor(alpha, dtype=torch.float32)
            if a.ndim != 1 or bool((a <= 0).any()):
                raise ValueError(f"`alpha` must be a 1-D sequence of positive weights, got {alpha!r}.")
            self.register_buffer("alpha", a)
        else:
            self.alpha = None

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``logits`` ``(B, K)``, ``target`` ``(B,)`` int64 → loss (see :func:`softmax_focal_loss`)."""
        alpha = None if self.alpha is None else self.alpha.to(logits.dtype)
        return softmax_focal_loss(logits, target, self.gamma, alpha, self.reduction)
