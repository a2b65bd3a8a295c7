"""ReCo-KD for 3-D segmentation: MS-SARD (region distillation) and MS-CA (context alignment).

ReCo-KD (Region- and Context-aware Knowledge Distillation for efficient 3D medical image segmentation,
2026) is training-only: the student is the teacher's family with narrower layers, and two terms added
to Dice + CE carry the teacher's knowledge at several scales:

- MS-SARD: at each distilled level the student's map, projected by a 1×1×1 convolution to the
  teacher's width, is matched to the teacher's by a squared error weighted per voxel by class-aware
  masks (background, liver, tumour) from the labels, in units of the teacher map's RMS. Each present
  class gets a fixed total weight
  whatever its volume (scale normalisation, :func:`~reactkd.losses.region_weight_map`), so a 1 ml
  tumour counts as much as a 1.5 l liver; ``class_weights`` sets the per-class shares.
- MS-CA: at each level the cosine affinity between K sampled positions (same positions for teacher
  and student) is matched (:func:`~reactkd.losses.sampled_affinity_alignment_loss`); part of the
  positions is drawn class-balanced so that long-range relations involving tumours are kept.

Levels are averaged with ``scale_weights``. Teacher and student are :class:`~reactkd.segment.SegNet`;
batches carry ``ct`` ``(B, 1, D, H, W)`` and ``seg`` ``(B, 1, D, H, W)`` labels.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from reactkd.losses.kd import kd_loss
from reactkd.losses.region_weighted import region_weight_map, region_weighted_feature_loss
from reactkd.losses.relational import sampled_affinity_alignment_loss
from reactkd.segment.losses import SegTaskLoss, class_masks

from .base import Distiller
from .registry import DISTILLERS

__all__ = ["SegDistiller", "SegMSSARD", "SegMSCA", "SegReCoKD"]


class SegDistiller(Distiller):
    """Base of the segmentation distillers: Dice + CE on the student, optional voxel-wise logit KD.

    Training ``forward(batch)`` → ``(student logits (B, K, D, H, W), {"loss_<term>": weighted scalar})``;
    eval → student logits. The teacher stays frozen and in eval mode (see :class:`Distiller`).

    Args:
        student, teacher: :class:`~reactkd.segment.SegNet` (teacher frozen by the caller or here).
        dice_weight, ce_weight: supervised terms (default 1 each).
        kd_weight: voxel-wise softened-logit KD weight (default 0: ReCo-KD distils features only).
        temperature: KD temperature (default 1).
        levels: level names to distil (default: the student's ``default_levels``).
        scale_weights: one weight per level (default equal); the level terms are their weighted mean.
        ce_class_weights: cross-entropy weight per class (background first), None = equal
            (:class:`~reactkd.segment.losses.SegTaskLoss`).
        warmup_steps: the teacher terms (distillation and logit KD) ramp linearly from 0 to their full
            weight over this many training steps (default 0: full weight at once). A fresh student's
            features are far from the teacher's, so at full weight these terms start several times larger
            than Dice + CE and the first epochs learn to imitate features before learning to segment.

    Raises:
        ValueError: a level missing from either network, mismatched ``scale_weights``, negative weights.
    """

    default_kd_weight = 0.0

    def __init__(self, student: nn.Module, teacher: nn.Module, dice_weight: float = 1.0, ce_weight: float = 1.0,
                 kd_weight: float | None = None, temperature: float = 1.0, levels: Sequence[str] | None = None,
                 scale_weights: Sequence[float] | None = None, ce_class_weights: Sequence[float] | None = None,
                 warmup_steps: int = 0) -> None:
        super().__init__(student, teacher, task_loss="ce", task_weight=1.0, focal_alpha=None, kd_weight=kd_weight,
                         temperature=temperature)
        teacher.requires_grad_(False)
        self.task = SegTaskLoss(dice_weight, ce_weight, ce_class_weights)
        if int(warmup_steps) < 0:
            raise ValueError(f"`warmup_steps` must be >= 0, got {warmup_steps!r}.")
        self.warmup_steps = int(warmup_steps)
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

    def kd_terms(self, logits, teacher_logits) -> dict[str, torch.Tensor]:
        if not (self.kd_weight and teacher_logits is not None):
            return {}
        flat = lambda z: z.movedim(1, -1).reshape(-1, z.shape[1])  # noqa: E731 (voxels as samples)
        return {"loss_kd": self.kd_weight * kd_loss(flat(logits), flat(teacher_logits), self.temperature)}

    def base_losses(self, logits, batch, teacher_logits):
        return {**self.task(logits, batch["seg"]), **self.kd_terms(logits, teacher_logits)}

    def class_weight_map(self, batch, size, background_weight: float, class_weights: torch.Tensor) -> torch.Tensor:
        """``(B, 1, d, h, w)`` scale-normalised class weights at a level's resolution (sums to 1 per case)."""
        masks, present = class_masks(batch["seg"], self.num_classes)
        return region_weight_map(masks, present, size, background_weight, class_weights)

    def distill_terms(self, fs, ft, batch) -> dict[str, torch.Tensor]:
        return {}

    def uses_teacher(self) -> bool:
        """Whether any term needs the teacher (all weights 0 = plain Dice + CE: the teacher is not run)."""
        return bool(self.kd_weight)

    def ramp(self) -> float:
        """Current factor of the teacher terms (linear warm-up over ``warmup_steps``)."""
        if not self.warmup_steps:
            return 1.0
        return min(1.0, (int(self.steps_done) + 1) / self.warmup_steps)

    def forward_train(self, batch):
        fs = self.student_features(batch)
        if not self.uses_teacher():
            return fs.logits, self.task(fs.logits, batch["seg"])
        ft = self.teacher_features(batch)
        task = self.task(fs.logits, batch["seg"])
        teacher_terms = {**self.kd_terms(fs.logits, ft.logits), **self.distill_terms(fs, ft, batch)}
        ramp = self.ramp()
        self.steps_done += 1
        return fs.logits, {**task, **{k: ramp * v for k, v in teacher_terms.items()}}


def _class_weights(values: Sequence[float], num_classes: int) -> torch.Tensor:
    w = torch.tensor([float(v) for v in values])
    if w.shape != (num_classes - 1,) or bool((w < 0).any()):
        raise ValueError(f"`class_weights` must be {num_classes - 1} non-negative numbers (one per foreground "
                         f"class), got {list(values)!r}.")
    return w


@DISTILLERS.register(key="seg_ms_sard")
class SegMSSARD(SegDistiller):
    """MS-SARD: class-aware, scale-normalised feature distillation at several levels (see module doc).

    Args:
        sard_weight: default 1.
        background_weight: total weight of the background relative to one class. Default 0.1.
        class_weights: total weight per foreground class (liver, tumour). Default ``(1, 1)``.
        **kwargs: :class:`SegDistiller` options.
    """

    def __init__(self, student, teacher, sard_weight: float = 1.0, background_weight: float = 0.1,
                 class_weights: Sequence[float] = (1.0, 1.0), **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(sard_weight=sard_weight, background_weight=background_weight)
        self.sard_weight, self.background_weight = float(sard_weight), float(background_weight)
        self.register_buffer("sard_class_weights", _class_weights(class_weights, self.num_classes), persistent=False)
        width = dict(zip(student.level_names, student.out_channels))
        t_width = dict(zip(teacher.level_names, teacher.out_channels))
        self.projectors = nn.ModuleDict({n: nn.Conv3d(width[n], t_width[n], 1) for n in self.levels})

    def sard_loss(self, fs, ft, batch) -> torch.Tensor:
        total = 0.0
        for name, sw in zip(self.levels, self.scale_weights):
            target = ft.levels[name]
            pred = self.projectors[name](fs.levels[name])
            if pred.shape[-3:] != target.shape[-3:]:
                pred = F.interpolate(pred, size=target.shape[-3:], mode="trilinear", align_corners=False)
            w = self.class_weight_map(batch, target.shape[-3:], self.background_weight, self.sard_class_weights)
            # In units of the teacher map's RMS: raw decoder activations differ by orders of magnitude
            # between levels and networks, and the level weights should mean what they say.
            rms = target.pow(2).mean(dim=(1, 2, 3, 4), keepdim=True).sqrt().clamp_min(1e-6)
            total = total + sw * region_weighted_feature_loss(pred / rms, target / rms, w)
        return total

    def uses_teacher(self) -> bool:
        return super().uses_teacher() or bool(self.sard_weight)

    def distill_terms(self, fs, ft, batch):
        return {"loss_sard": self.sard_weight * self.sard_loss(fs, ft, batch)} if self.sard_weight else {}


def _ca_loss(distiller: SegDistiller, fs, ft, batch, num_positions: int, region_sampling: float,
             background_weight: float, class_weights: torch.Tensor) -> torch.Tensor:
    total = 0.0
    for name, sw in zip(distiller.levels, distiller.scale_weights):
        s, t = fs.levels[name], ft.levels[name]
        if s.shape[-3:] != t.shape[-3:]:
            s = F.interpolate(s, size=t.shape[-3:], mode="trilinear", align_corners=False)
        weights = None
        if region_sampling > 0:
            balanced = distiller.class_weight_map(batch, t.shape[-3:], background_weight, class_weights)
            weights = region_sampling * balanced + (1 - region_sampling) / balanced[0].numel()
        total = total + sw * sampled_affinity_alignment_loss(s, t, num_positions, weights)
    return total


def _check_ca(num_positions: int, region_sampling: float) -> None:
    if int(num_positions) < 2:
        raise ValueError(f"`num_positions` must be >= 2, got {num_positions!r}.")
    if not 0.0 <= region_sampling <= 1.0:
        raise ValueError(f"`region_sampling` must be in [0, 1], got {region_sampling!r}.")


@DISTILLERS.register(key="seg_ms_ca")
class SegMSCA(SegDistiller):
    """MS-CA: teacher–student affinity alignment on sampled positions at several levels (see module doc).

    Args:
        ca_weight: default 1.
        num_positions: positions per case and level (K; memory O(K²)). Default 256.
        region_sampling: share of the sampling probability that is class-balanced (the rest uniform).
            Default 0.5.
        background_weight, class_weights: of the class-balanced share, as in :class:`SegMSSARD`.
        **kwargs: :class:`SegDistiller` options.
    """

    def __init__(self, student, teacher, ca_weight: float = 1.0, num_positions: int = 256,
                 region_sampling: float = 0.5, background_weight: float = 0.1,
                 class_weights: Sequence[float] = (1.0, 1.0), **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(ca_weight=ca_weight, background_weight=background_weight)
        _check_ca(num_positions, region_sampling)
        self.ca_weight, self.num_positions = float(ca_weight), int(num_positions)
        self.region_sampling, self.ca_background_weight = float(region_sampling), float(background_weight)
        self.register_buffer("ca_class_weights", _class_weights(class_weights, self.num_classes), persistent=False)

    def uses_teacher(self) -> bool:
        return super().uses_teacher() or bool(self.ca_weight)

    def distill_terms(self, fs, ft, batch):
        if not self.ca_weight:
            return {}
        ca = _ca_loss(self, fs, ft, batch, self.num_positions, self.region_sampling, self.ca_background_weight,
                      self.ca_class_weights)
        return {"loss_ca": self.ca_weight * ca}


@DISTILLERS.register(key="seg_reco")
class SegReCoKD(SegMSSARD):
    """ReCo-KD: Dice + CE + MS-SARD + MS-CA (both terms of :class:`SegMSSARD` and :class:`SegMSCA`).

    Args:
        sard_weight, background_weight, class_weights: MS-SARD (``class_weights`` also weights MS-CA's
            class-balanced sampling).
        ca_weight, num_positions, region_sampling: MS-CA.
        **kwargs: :class:`SegDistiller` options.
    """

    def __init__(self, student, teacher, sard_weight: float = 1.0, ca_weight: float = 1.0,
                 background_weight: float = 0.1, class_weights: Sequence[float] = (1.0, 1.0),
                 num_positions: int = 256, region_sampling: float = 0.5, **kwargs) -> None:
        super().__init__(student, teacher, sard_weight=sard_weight, background_weight=background_weight,
                         class_weights=class_weights, **kwargs)
        self.check_weights(ca_weight=ca_weight)
        _check_ca(num_positions, region_sampling)
        self.ca_weight, self.num_positions, self.region_sampling = float(ca_weight), int(num_positions), float(region_sampling)

    def uses_teacher(self) -> bool:
        return super().uses_teacher() or bool(self.ca_weight)

    def distill_terms(self, fs, ft, batch):
        losses = super().distill_terms(fs, ft, batch)
        if self.ca_weight:
            ca = _ca_loss(self, fs, ft, batch, self.num_positions, self.region_sampling, self.background_weight,
                          self.sard_class_weights)
            losses["loss_ca"] = self.ca_weight * ca
        return losses
