"""Supervised segmentation loss (Dice + cross-entropy) and the class-aware masks ReCo-KD weights by."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from monai.losses import DiceLoss

__all__ = ["SegTaskLoss", "class_masks"]


class SegTaskLoss(nn.Module):
    """``{"loss_dice": w_d · soft Dice, "loss_ce": w_c · CE}`` on logits and integer labels.

    Soft Dice is MONAI's ``DiceLoss`` (softmax, one-hot labels, background excluded so that the
    large background does not dominate the overlap term; CE still sees every voxel). Terms whose weight
    is 0 are not computed.

    Args:
        dice_weight, ce_weight: non-negative weights (default 1 each).
        class_weights: cross-entropy weight per class (background first), None = equal. Tumour voxels are
            ~1% of a patch; weighting them up keeps CE from settling on "no tumour anywhere".
    """

    def __init__(self, dice_weight: float = 1.0, ce_weight: float = 1.0, class_weights=None) -> None:
        super().__init__()
        if dice_weight < 0 or ce_weight < 0:
            raise ValueError(f"`dice_weight` and `ce_weight` must be >= 0, got {dice_weight!r}, {ce_weight!r}.")
        self.dice_weight, self.ce_weight = float(dice_weight), float(ce_weight)
        self.dice = DiceLoss(include_background=False, to_onehot_y=True, softmax=True)
        weights = None
        if class_weights is not None:
            weights = torch.tensor([float(w) for w in class_weights])
            if weights.ndim != 1 or bool((weights < 0).any()) or float(weights.sum()) <= 0:
                raise ValueError(f"`class_weights` must be non-negative numbers, one per class, not all 0; "
                                 f"got {class_weights!r}.")
        self.register_buffer("ce_class_weights", weights, persistent=False)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Args: ``logits`` ``(B, K, D, H, W)``; ``labels`` ``(B, 1, D, H, W)`` int64 in [0, K)."""
        if labels.shape != (logits.shape[0], 1, *logits.shape[2:]):
            raise ValueError(f"`labels` must be (B, 1, D, H, W) = {(logits.shape[0], 1, *logits.shape[2:])}, "
                             f"got {tuple(labels.shape)}.")
        out = {}
        if self.dice_weight:
            out["loss_dice"] = self.dice_weight * self.dice(logits.float(), labels)
        if self.ce_weight:
            weights = self.ce_class_weights
            if weights is not None and weights.numel() != logits.shape[1]:
                raise ValueError(f"`class_weights` has {weights.numel()} values for {logits.shape[1]} classes.")
            out["loss_ce"] = self.ce_weight * F.cross_entropy(logits.float(), labels[:, 0].long(), weight=weights)
        return out


def class_masks(labels: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Foreground class masks of a label volume, and which classes are present.

    Args:
        labels: ``(B, 1, D, H, W)`` integer labels (0 = background).

    Returns:
        ``masks`` ``(B, K−1, D, H, W)`` float one-hot of classes 1…K−1, ``present`` ``(B, K−1)`` bool.
    """
    onehot = F.one_hot(labels[:, 0].long(), num_classes).permute(0, 4, 1, 2, 3)[:, 1:].float()
    return onehot, onehot.flatten(2).sum(-1) > 0
