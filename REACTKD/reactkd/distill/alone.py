"""The student trained alone: the reference against which every distiller's gain is measured."""

from __future__ import annotations

from .base import Distiller
from .registry import DISTILLERS

__all__ = ["StudentAlone"]


@DISTILLERS.register(key="none")
class StudentAlone(Distiller):
    """The task loss only (focal by default): the same student, inputs, schedule and selection as a
    distilled one, without any teacher term. The teacher is held (the distiller interface) but never run,
    so this row costs a student's training only. ``kd_weight`` and ``temperature`` are no options of it
    (:attr:`unused_kwargs`: a config naming them is refused, a table row built from another distiller's
    kwargs leaves them out); ``kd_weight`` is 0 and may not be set otherwise.

    It answers the paper's question directly: does distillation from the PET/CT teacher make the CT
    student better than training it on the labels alone (``reactkd compare`` pairs every row with the
    first over (seed, fold))?
    """

    default_kd_weight = 0.0
    unused_kwargs = ("kd_weight", "temperature")

    def __init__(self, student, teacher, **kwargs) -> None:
        if kwargs.get("kd_weight"):
            raise ValueError(f"the `none` distiller trains without a teacher: `kd_weight` must be 0, got "
                             f"{kwargs['kd_weight']!r}.")
        super().__init__(student, teacher, **kwargs)

    def forward_train(self, batch):
        logits = self.student_features(batch).logits
        return logits, self.base_losses(logits, batch, None)
