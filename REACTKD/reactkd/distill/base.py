"""The distiller contract (mdistiller style): student + frozen teacher(s) → (logits, weighted losses)."""

from __future__ import annotations

import enum
from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from reactkd.losses.focal import DEFAULT_GRADE_ALPHA, FocalLoss
from reactkd.losses.kd import kd_loss
from reactkd.models import ModelFeatures, features_from_batch

__all__ = ["TaskLoss", "Distiller", "matched_level_pairs", "resolve_level_pairs"]

Batch = Mapping[str, Any]


class TaskLoss(str, enum.Enum):
    """Supervised term on the labels: ``focal`` (default, see :class:`FocalLoss`) or plain ``ce``."""

    FOCAL = "focal"
    CE = "ce"


def matched_level_pairs(student_strides: Sequence[int], teacher_strides: Sequence[int]) -> list[tuple[int, int]]:
    """``(student_level, teacher_level)`` pairs whose feature maps have the same stride.

    For the default SegResNet (strides 1, 2, 4, 8) and Swin (2, 4, 8, 16, 32): ``[(1, 0), (2, 1), (3, 2)]``.
    """
    return [(i, teacher_strides.index(s)) for i, s in enumerate(student_strides) if s in teacher_strides]


class Distiller(nn.Module):
    """Base class: holds the student, the frozen teacher(s) and the task loss; subclasses add terms.

    Contract (mdistiller ``_base.py``): ``train()`` keeps every teacher in eval mode;
    :meth:`get_learnable_parameters` returns the student's trainable parameters plus the distiller's own
    (projectors), never the teacher's; in training mode ``forward(batch)`` returns
    ``(student_logits (B, K), {"loss_<term>": weighted scalar})`` so a trainer only sums the values; in
    eval mode it returns the student's logits. Teachers run under ``torch.no_grad()``. Terms whose
    weight is 0 are neither computed nor reported (ablations cost nothing).

    Models are :class:`~reactkd.models.GradingNet` compositions: their input adapter builds the tensors
    from the batch, ``forward_features`` returns :class:`~reactkd.models.ModelFeatures`.

    Args:
        student: the network being trained.
        teacher: one frozen teacher or a sequence of them (multi-teacher distillers).
        task_loss: :class:`TaskLoss`. Default ``"focal"`` for every method, so that baselines differ from
            REACT-KD only in their distillation terms.
        task_weight: weight of the task term. Default 1.
        focal_gamma: focal γ. Default 2.
        focal_alpha: per-grade focal α. Default ``(1.5, 1.0, 2.0)``.
        kd_weight: weight of logit KD; the subclass sets its method's default.
        temperature: KD temperature. Default 2.

    Raises:
        TypeError: if a model lacks ``forward_features``.
        ValueError: for an empty teacher list, negative weights or an unknown ``task_loss``.
    """

    default_kd_weight: float = 1.0

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module | Sequence[nn.Module],
        task_loss: TaskLoss | str = TaskLoss.FOCAL,
        task_weight: float = 1.0,
        focal_gamma: float = 2.0,
        focal_alpha: Sequence[float] | None = DEFAULT_GRADE_ALPHA,
        kd_weight: float | None = None,
        temperature: float = 2.0,
    ) -> None:
        super().__init__()
        teachers = list(teacher) if isinstance(teacher, (list, tuple, nn.ModuleList)) else [teacher]
        if not teachers:
            raise ValueError("`teacher` must be a model or a non-empty sequence of models, got an empty sequence.")
        for name, model in [("student", student)] + [(f"teacher[{i}]", t) for i, t in enumerate(teachers)]:
            if not hasattr(model, "forward_features"):
                raise TypeError(f"`{name}` ({type(model).__name__}) must provide forward_features(x) -> ModelFeatures.")
        self.student = student
        self.teachers = nn.ModuleList(teachers)
        try:
            self.task_kind = TaskLoss(task_loss)
        except ValueError:
            raise ValueError(f"`task_loss` must be one of {[t.value for t in TaskLoss]}, got {task_loss!r}.") from None
        self.focal = FocalLoss(focal_gamma, focal_alpha) if self.task_kind is TaskLoss.FOCAL else None
        self.kd_weight = self.default_kd_weight if kd_weight is None else kd_weight
        self.task_weight = task_weight
        self.check_weights(task_weight=task_weight, kd_weight=self.kd_weight)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature!r}.")
        self.temperature = float(temperature)
        self.train()

    @staticmethod
    def check_weights(**weights: float) -> None:
        """Raise ``ValueError`` naming the first negative weight."""
        for name, value in weights.items():
            if not float(value) >= 0:
                raise ValueError(f"`{name}` must be >= 0, got {value!r}.")

    @property
    def teacher(self) -> nn.Module:
        """The first (or only) teacher."""
        return self.teachers[0]

    def train(self, mode: bool = True) -> "Distiller":
        super().train(mode)
        self.teachers.eval()
        return self

    def get_extra_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters owned by the distiller itself (projectors), not by the models."""
        model_params = {id(p) for p in self.student.parameters()} | {id(p) for p in self.teachers.parameters()}
        return [p for p in self.parameters() if id(p) not in model_params and p.requires_grad]

    def get_learnable_parameters(self) -> list[nn.Parameter]:
        """Student parameters with ``requires_grad`` (a frozen shared CBAM3D is excluded) + projectors."""
        return [p for p in self.student.parameters() if p.requires_grad] + self.get_extra_parameters()

    # --- forward passes -------------------------------------------------------------------------
    def student_features(self, batch: Batch) -> ModelFeatures:
        return features_from_batch(self.student, batch)

    @torch.no_grad()
    def teacher_features(self, batch: Batch, index: int = 0) -> ModelFeatures:
        return features_from_batch(self.teachers[index], batch)

    def task_term(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        if self.focal is not None:
            return self.focal(logits, label)
        return F.cross_entropy(logits, label)

    def base_losses(self, logits: torch.Tensor, batch: Batch, teacher_logits: torch.Tensor | None) -> dict:
        """``loss_task`` and, when weighted and ``teacher_logits`` given, ``loss_kd``."""
        losses = {}
        if self.task_weight:
            losses["loss_task"] = self.task_weight * self.task_term(logits, batch["label"])
        if self.kd_weight and teacher_logits is not None:
            losses["loss_kd"] = self.kd_weight * kd_loss(logits, teacher_logits, self.temperature)
        return losses

    def forward_train(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def forward(self, batch: Batch):
        """Training: ``(student_logits, losses)``; eval: student logits ``(B, K)``."""
        if self.training:
            return self.forward_train(batch)
        return self.student_features(batch).logits


def resolve_level_pairs(
    student: nn.Module, teacher: nn.Module, level_pairs: Sequence[Sequence[int]] | None
) -> list[tuple[int, int]]:
    """Validate explicit ``(student_level, teacher_level)`` pairs, or match levels by stride when None.

    Raises:
        TypeError: if a model lacks ``out_channels`` (or ``strides`` when pairing automatically).
        ValueError: for an index out of range or when no stride matches.
    """
    for role, model in (("student", student), ("teacher", teacher)):
        if not hasattr(model, "out_channels"):
            raise TypeError(f"the {role} must expose `out_channels` (widths of its feature levels).")
    if level_pairs is None:
        if not (hasattr(student, "strides") and hasattr(teacher, "strides")):
            raise TypeError("pass `level_pairs` explicitly: the models do not expose `strides`.")
        pairs = matched_level_pairs(student.strides, teacher.strides)
        if not pairs:
            raise ValueError(f"no level of stride {student.strides} matches teacher strides {teacher.strides}.")
        return pairs
    pairs = [(int(s), int(t)) for s, t in level_pairs]
    ns, nt = len(student.out_channels), len(teacher.out_channels)
    bad = [p for p in pairs if not (0 <= p[0] < ns and 0 <= p[1] < nt)]
    if not pairs or bad:
        raise ValueError(f"`level_pairs` must be non-empty pairs in [0, {ns}) × [0, {nt}), got {list(level_pairs)!r}.")
    return pairs
