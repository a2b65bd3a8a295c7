"""ReCo-KD for 3-D segmentation: MS-SARD (region distillation) and MS-CA (context alignment).

ReCo-KD (Region- and Context-aware Knowledge Distillation for efficient 3D medical image segmentation,
2026) is training-only: the student is the teacher's family with narrower layers, and two terms added
to Dice + CE carry the teacher's knowledge at several scales:

- MS-SARD (:class:`RegionTerm`, :func:`~reactkd.losses.ms_sard_loss`): at each distilled level the
  student's map, projected by a 1×1×1 convolution to the teacher's width, is matched to the teacher's by a
  squared error weighted per voxel by class-aware masks (background, liver, tumour) from the labels, in
  units of the teacher map's RMS. Each present class gets a fixed total weight whatever its volume (scale
  normalisation, :func:`~reactkd.losses.region_weight_map`), so a 1 ml tumour counts as much as a 1.5 l
  liver; ``class_weights`` sets the per-class shares.
- MS-CA (:class:`ContextTerm`, :func:`~reactkd.losses.ms_ca_loss`): at each level the cosine affinity
  between K sampled positions (same positions for teacher and student) is matched; part of the positions
  is drawn class-balanced so that long-range relations involving tumours are kept.

Levels are averaged with ``scale_weights``. :class:`SegDistiller` composes the Dice + CE task loss
(:class:`~reactkd.segment.losses.SegTaskLoss`), optional voxel-wise logit KD and the terms it is given;
``SEG_DISTILLERS`` names the three recipes a config picks: ``seg_ms_sard``, ``seg_ms_ca`` and ``seg_reco``
(both terms). Teacher and student are :class:`~reactkd.segment.SegNet`; batches carry ``ct``
``(B, 1, D, H, W)`` and ``seg`` ``(B, 1, D, H, W)`` labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn as nn

from reactkd.losses.kd import kd_loss
from reactkd.losses.region_weighted import in_teacher_rms_units, ms_sard_loss, region_weight_map
from reactkd.losses.relational import ms_ca_loss
from reactkd.segment.losses import SegTaskLoss, class_masks
from reactkd.utils.registry import Registry

__all__ = ["SEG_DISTILLERS", "RegionTerm", "ContextTerm", "SegDistiller", "build_seg_distiller"]

Batch = Mapping[str, Any]

SEG_DISTILLERS = Registry("seg distiller")
"""Config key (``distiller.name`` of a seg config) → builder ``(student, teacher, **kwargs) -> SegDistiller``."""


def _non_negative(**values: float) -> None:
    for name, value in values.items():
        if not float(value) >= 0:
            raise ValueError(f"`{name}` must be >= 0, got {value!r}.")


@dataclass(frozen=True)
class RegionTerm:
    """MS-SARD's settings (errors name the distiller kwargs ``sard_weight``, ``background_weight``).

    Attributes:
        weight: of ``loss_sard``.
        background_weight: total weight of the background relative to one class.
        class_weights: total weight per foreground class (liver, tumour).
    """

    weight: float = 1.0
    background_weight: float = 0.1
    class_weights: Sequence[float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        _non_negative(sard_weight=self.weight, background_weight=self.background_weight)


@dataclass(frozen=True)
class ContextTerm:
    """MS-CA's settings (errors name the distiller kwargs ``ca_weight``, ``num_positions`` …).

    Attributes:
        weight: of ``loss_ca``.
        num_positions: positions per case and level (K; memory O(K²)).
        region_sampling: share of the sampling probability that is class-balanced (the rest uniform).
        background_weight, class_weights: of the class-balanced share, as in :class:`RegionTerm`.
    """

    weight: float = 1.0
    num_positions: int = 256
    region_sampling: float = 0.5
    background_weight: float = 0.1
    class_weights: Sequence[float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        _non_negative(ca_weight=self.weight, background_weight=self.background_weight)
        if int(self.num_positions) < 2:
            raise ValueError(f"`num_positions` must be >= 2, got {self.num_positions!r}.")
        if not 0.0 <= self.region_sampling <= 1.0:
            raise ValueError(f"`region_sampling` must be in [0, 1], got {self.region_sampling!r}.")


def _class_weights(values: Sequence[float], num_classes: int) -> torch.Tensor:
    w = torch.tensor([float(v) for v in values])
    if w.shape != (num_classes - 1,) or bool((w < 0).any()):
        raise ValueError(f"`class_weights` must be {num_classes - 1} non-negative numbers (one per foreground "
                         f"class), got {list(values)!r}.")
    return w


class SegDistiller(nn.Module):
    """A segmentation student trained with Dice + CE, optional logit KD and the given ReCo-KD terms.

    Training ``forward(batch)`` → ``(student logits (B, K, D, H, W), {"loss_<term>": weighted scalar})``
    (``loss_dice``, ``loss_ce``, then ``loss_kd``, ``loss_sard``, ``loss_ca`` where weighted); eval → student
    logits. The teacher is frozen and stays in eval mode; it is not run when no term needs it. Terms whose
    weight is 0 are neither computed nor reported.

    Args:
        student, teacher: :class:`~reactkd.segment.SegNet` (the teacher is frozen here).
        task: the supervised Dice + CE loss.
        region: MS-SARD, or None. Its 1×1×1 projectors (``projectors.<level>``) are the distiller's own
            trainable parameters.
        context: MS-CA, or None.
        kd_weight: voxel-wise softened-logit KD weight (default 0: ReCo-KD distils features only).
        temperature: KD temperature (default 1).
        levels: level names to distil (default: the student's ``default_levels``).
        scale_weights: one weight per level (default equal); the level terms are their weighted mean.
        warmup_steps: the teacher terms (distillation and logit KD) ramp linearly from 0 to their full
            weight over this many training steps (default 0: full weight at once). A fresh student's
            features are far from the teacher's, so at full weight these terms start several times larger
            than Dice + CE and the first epochs learn to imitate features before learning to segment.

    Raises:
        TypeError: a network without ``forward_features``.
        ValueError: a level missing from either network, mismatched ``scale_weights`` or ``class_weights``,
            negative weights, ``temperature`` <= 0.
    """

    def __init__(self, student: nn.Module, teacher: nn.Module, task: SegTaskLoss, region: RegionTerm | None = None,
                 context: ContextTerm | None = None, kd_weight: float | None = 0.0, temperature: float = 1.0,
                 levels: Sequence[str] | None = None, scale_weights: Sequence[float] | None = None,
                 warmup_steps: int = 0) -> None:
        super().__init__()
        for role, model in (("student", student), ("teacher", teacher)):
            if not hasattr(model, "forward_features"):
                raise TypeError(f"`{role}` ({type(model).__name__}) must provide forward_features(x) -> SegFeatures.")
        kd_weight = 0.0 if kd_weight is None else kd_weight
        _non_negative(kd_weight=kd_weight)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0, got {temperature!r}.")
        if int(warmup_steps) < 0:
            raise ValueError(f"`warmup_steps` must be >= 0, got {warmup_steps!r}.")
        self.student, self.teacher, self.task = student, teacher.requires_grad_(False), task
        self.kd_weight, self.temperature, self.warmup_steps = float(kd_weight), float(temperature), int(warmup_steps)
        # Saved with the training state (last.pt), so a resumed run continues the ramp where it stopped.
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        names = list(levels) if levels is not None else list(student.default_levels)
        missing = [n for n in names if n not in student.level_names or n not in teacher.level_names]
        if not names or missing:
            raise ValueError(f"`levels` must be non-empty names of both networks' levels {student.level_names} "
                             f"(teacher {teacher.level_names}); missing: {missing or names}.")
        self.levels = names
        sw = [1.0] * len(names) if scale_weights is None else [float(w) for w in scale_weights]
        if len(sw) != len(names) or any(w < 0 for w in sw) or sum(sw) <= 0:
            raise ValueError(f"`scale_weights` must be {len(names)} non-negative numbers (levels {names}), not all "
                             f"0, got {scale_weights!r}.")
        self.scale_weights = [w / sum(sw) for w in sw]
        self.num_classes = int(student.num_classes)
        self.region, self.context = region, context
        if region is not None:
            self.register_buffer("sard_class_weights", _class_weights(region.class_weights, self.num_classes),
                                 persistent=False)
            width = dict(zip(student.level_names, student.out_channels))
            t_width = dict(zip(teacher.level_names, teacher.out_channels))
            self.projectors = nn.ModuleDict({n: nn.Conv3d(width[n], t_width[n], 1) for n in self.levels})
        if context is not None:
            self.register_buffer("ca_class_weights", _class_weights(context.class_weights, self.num_classes),
                                 persistent=False)
        self.train()

    def train(self, mode: bool = True) -> "SegDistiller":
        super().train(mode)
        self.teacher.eval()
        return self

    def get_learnable_parameters(self) -> list[nn.Parameter]:
        """The student's trainable parameters, then the MS-SARD projectors (never the teacher's)."""
        own = list(self.projectors.parameters()) if self.region is not None else []
        return [p for p in self.student.parameters() if p.requires_grad] + own

    def uses_teacher(self) -> bool:
        """Whether any term needs the teacher (all weights 0 = plain Dice + CE: the teacher is not run)."""
        return bool(self.kd_weight or (self.region and self.region.weight) or (self.context and self.context.weight))

    def ramp(self) -> float:
        """Current factor of the teacher terms (linear warm-up over ``warmup_steps``)."""
        if not self.warmup_steps:
            return 1.0
        return min(1.0, (int(self.steps_done) + 1) / self.warmup_steps)

    def forward(self, batch: Batch):
        """Training: ``(student logits, losses)``; eval: student logits ``(B, K, D, H, W)``."""
        if not self.training:
            return self.student(batch["ct"])
        fs = self.student.forward_features(batch["ct"])
        task = self.task(fs.logits, batch["seg"])
        if not self.uses_teacher():
            return fs.logits, task
        with torch.no_grad():
            ft = self.teacher.forward_features(batch["ct"])
        masks, present = class_masks(batch["seg"], self.num_classes)
        terms = {}
        if self.kd_weight:
            flat = lambda z: z.movedim(1, -1).reshape(-1, z.shape[1])  # noqa: E731 (voxels as samples)
            terms["loss_kd"] = self.kd_weight * kd_loss(flat(fs.logits), flat(ft.logits), self.temperature)
        if self.region is not None and self.region.weight:
            terms["loss_sard"] = self.region.weight * self.sard_loss(fs.levels, ft.levels, masks, present)
        if self.context is not None and self.context.weight:
            terms["loss_ca"] = self.context.weight * self.ca_loss(fs.levels, ft.levels, masks, present)
        ramp = self.ramp()
        self.steps_done += 1
        return fs.logits, {**task, **{k: ramp * v for k, v in terms.items()}}

    def sard_loss(self, student_levels: dict, teacher_levels: dict, masks: torch.Tensor,
                  present: torch.Tensor) -> torch.Tensor:
        """MS-SARD over ``levels`` (unweighted): projected student maps vs the teacher's, in its RMS units."""
        preds, targets, maps = [], [], []
        for name in self.levels:
            target = teacher_levels[name]
            pred, target = in_teacher_rms_units(self.projectors[name](student_levels[name]), target)
            preds.append(pred)
            targets.append(target)
            maps.append(region_weight_map(masks, present, target.shape[-3:], self.region.background_weight,
                                          self.sard_class_weights))
        return ms_sard_loss(preds, targets, maps, self.scale_weights)

    def ca_loss(self, student_levels: dict, teacher_levels: dict, masks: torch.Tensor,
                present: torch.Tensor) -> torch.Tensor:
        """MS-CA over ``levels`` (unweighted), a ``region_sampling`` share of the positions class-balanced."""
        c = self.context
        weights = None
        if c.region_sampling > 0:
            weights = []
            for name in self.levels:
                balanced = region_weight_map(masks, present, teacher_levels[name].shape[-3:], c.background_weight,
                                             self.ca_class_weights)
                weights.append(c.region_sampling * balanced + (1 - c.region_sampling) / balanced[0].numel())
        return ms_ca_loss([student_levels[n] for n in self.levels], [teacher_levels[n] for n in self.levels],
                          self.scale_weights, num_positions=int(c.num_positions), sampling_weights=weights)


def _distiller(student, teacher, region=None, context=None, dice_weight: float = 1.0, ce_weight: float = 1.0,
               ce_class_weights: Sequence[float] | None = None, **options) -> SegDistiller:
    """``options``: :class:`SegDistiller`'s ``kd_weight``, ``temperature``, ``levels``, ``scale_weights``,
    ``warmup_steps``; ``ce_class_weights``: cross-entropy weight per class (background first)."""
    return SegDistiller(student, teacher, SegTaskLoss(dice_weight, ce_weight, ce_class_weights), region, context,
                        **options)


@SEG_DISTILLERS.register(key="seg_ms_sard")
def seg_ms_sard(student, teacher, sard_weight: float = 1.0, background_weight: float = 0.1,
                class_weights: Sequence[float] = (1.0, 1.0), **options) -> SegDistiller:
    """Dice + CE + MS-SARD (``options``: ``dice_weight``, ``ce_weight`` and those of :class:`SegDistiller`)."""
    return _distiller(student, teacher, RegionTerm(sard_weight, background_weight, class_weights), **options)


@SEG_DISTILLERS.register(key="seg_ms_ca")
def seg_ms_ca(student, teacher, ca_weight: float = 1.0, num_positions: int = 256, region_sampling: float = 0.5,
              background_weight: float = 0.1, class_weights: Sequence[float] = (1.0, 1.0), **options) -> SegDistiller:
    """Dice + CE + MS-CA."""
    context = ContextTerm(ca_weight, num_positions, region_sampling, background_weight, class_weights)
    return _distiller(student, teacher, context=context, **options)


@SEG_DISTILLERS.register(key="seg_reco")
def seg_reco(student, teacher, sard_weight: float = 1.0, ca_weight: float = 1.0, background_weight: float = 0.1,
             class_weights: Sequence[float] = (1.0, 1.0), num_positions: int = 256, region_sampling: float = 0.5,
             **options) -> SegDistiller:
    """ReCo-KD: Dice + CE + MS-SARD + MS-CA, one ``background_weight`` and ``class_weights`` for both."""
    return _distiller(student, teacher, RegionTerm(sard_weight, background_weight, class_weights),
                      ContextTerm(ca_weight, num_positions, region_sampling, background_weight, class_weights),
                      **options)


def build_seg_distiller(name: str, student: nn.Module, teacher: nn.Module, **kwargs: Any) -> SegDistiller:
    """The seg distiller registered as ``name``, e.g. ``build_seg_distiller("seg_reco", s, t, ca_weight=0)``.

    Raises:
        ValueError: an unknown ``name`` (the message lists the registered keys), or a value it refuses.
    """
    return SEG_DISTILLERS.build(name, student, teacher, **kwargs)
