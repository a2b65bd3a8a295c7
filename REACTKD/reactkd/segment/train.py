"""Stage 1 wrapper (teacher with Dice + CE) and the validation callable ``fit`` selects checkpoints with."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch.nn as nn

from reactkd.segment.data import SegVolume
from reactkd.segment.inference import predict_labels
from reactkd.segment.losses import SegTaskLoss
from reactkd.segment.metrics import dice_per_class
from reactkd.segment.postprocess import NONE, postprocess_labels

__all__ = ["SegSupervised", "dice_validator"]


class SegSupervised(nn.Module):
    """Training ``forward(batch)`` → ``(logits, {"loss_dice", "loss_ce"})``; eval → logits."""

    def __init__(self, model: nn.Module, dice_weight: float = 1.0, ce_weight: float = 1.0,
                 class_weights=None) -> None:
        super().__init__()
        self.model = model
        self.task = SegTaskLoss(dice_weight, ce_weight, class_weights)

    def get_learnable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def forward(self, batch: Mapping[str, Any]):
        logits = self.model(batch["ct"])
        if self.training:
            return logits, self.task(logits, batch["seg"])
        return logits


def dice_validator(volumes: list[SegVolume], patch: int, overlap: float, device, postprocess: str = NONE):
    """A ``validate(model) -> {"dice", "dice_liver", "dice_tumor"}`` over whole validation volumes
    (sliding windows, then ``postprocess`` as at inference, so the checkpoint is chosen on what users
    get); each class is averaged over the cases that contain it, ``dice`` over classes."""

    def predict(model, v):
        return postprocess_labels(predict_labels(model, v.image, patch, overlap, device), postprocess)

    def validate(model: nn.Module) -> dict:
        per_case = [dice_per_class(predict(model, v), v.labels) for v in volumes]
        out = {k: float(np.nanmean([d[k] for d in per_case])) if any(np.isfinite(d[k]) for d in per_case)
               else float("nan") for k in per_case[0]}
        out["dice"] = float(np.nanmean(list(out.values())))
        return out

    return validate
