"""The two pieces every multi-scale feature loss shares: one spatial size per level, one weighted sum over levels."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["resize_to", "scale_sum"]


def resize_to(x: torch.Tensor, spatial_size: Sequence[int] | torch.Size) -> torch.Tensor:
    """``x`` ``(B, C, d, h, w)`` resized trilinearly to ``spatial_size`` (returned as it is when it already fits)."""
    if tuple(x.shape[-3:]) == tuple(spatial_size):
        return x
    return F.interpolate(x, size=tuple(spatial_size), mode="trilinear", align_corners=False)


def scale_sum(level_losses: Sequence[torch.Tensor], scale_weights: Sequence[float] | None = None) -> torch.Tensor:
    """``Σ_l α_l L_l`` with ``scale_weights`` α as given, or the plain mean over levels when None.

    Raises:
        ValueError: no level, or a number of weights other than the number of levels.
    """
    if not level_losses:
        raise ValueError("a multi-scale loss needs at least one level.")
    if scale_weights is None:
        return sum(level_losses) / len(level_losses)
    if len(scale_weights) != len(level_losses):
        raise ValueError(f"`scale_weights` has {len(scale_weights)} values for {len(level_losses)} levels.")
    total = 0.0
    for weight, loss in zip(scale_weights, level_losses):
        total = total + weight * loss
    return total
