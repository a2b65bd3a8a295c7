"""Vanilla logit distillation (Hinton et al. 2015)."""

from __future__ import annotations

from .base import Distiller
from .registry import DISTILLERS

__all__ = ["KD"]


@DISTILLERS.register(key="kd")
class KD(Distiller):
    """Focal task loss + KL(softmax(t/T) ‖ softmax(s/T))·T² (``kd_weight`` default 1, T default 2).

    References:
        Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural Network". 2015.
    """

    def forward_train(self, batch):
        fs = self.student_features(batch)
        ft = self.teacher_features(batch) if self.kd_weight else None
        return fs.logits, self.base_losses(fs.logits, batch, None if ft is None else ft.logits)
