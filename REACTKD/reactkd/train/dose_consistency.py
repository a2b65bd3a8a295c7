"""Stage 1 with unlabelled CT: the graded cases' focal loss plus the dose consistency of the unlabelled ones.

The paper trains its teachers also on unlabelled LiTS CT "to enhance dose-aware representation learning".
Here an unlabelled case enters through the teacher's dose-aware branch alone (its Swin encoder; no PET,
no head): its region-graph nodes on the native CT and on the simulated low dose are made to agree
(:mod:`reactkd.losses.dose_consistency`, where the objective and its defaults are argued). The graded
cases train the whole teacher with the focal loss exactly as without unlabelled cases.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from reactkd.config.schema import TeacherStageConfig
from reactkd.graph import region_nodes
from reactkd.losses.dose_consistency import ConsistencyTarget, DoseConsistencyLoss, DoseConsistencySpec
from reactkd.models import TeacherBranch
from reactkd.models.inputs import roi_input_channels
from reactkd.train.runtime import Runtime
from reactkd.train.supervised import SupervisedModel
from reactkd.train.unlabelled import UnlabelledCases, WithUnlabelled, unlabelled_loader, unlabelled_part

__all__ = ["DEFAULT_LEVEL", "consistency_level", "dose_branch_nodes", "DoseConsistencyModel", "with_unlabelled"]

DEFAULT_LEVEL = 2
"""The dose branch's level when neither the spec nor the distiller names one: stride 8, the region-graph
distillation's default teacher level."""


def consistency_level(spec: DoseConsistencySpec, distiller_kwargs: Mapping[str, Any]) -> int:
    """``spec.level``, else the distiller's ``teacher_level``, else :data:`DEFAULT_LEVEL`."""
    if spec.level is not None:
        return spec.level
    return int(distiller_kwargs.get("teacher_level", DEFAULT_LEVEL))


def dose_branch_nodes(teacher: nn.Module, ct: torch.Tensor, roi_masks: torch.Tensor, level: int) -> torch.Tensor:
    """Region-graph nodes of a CT seen by the teacher's dose-aware branch alone.

    Args:
        teacher: a :class:`~reactkd.models.Teacher` with the ``dose`` branch.
        ct: ``(B, 1, D, H, W)`` normalised CT (native or low dose), as the branch takes ``ct_lowdose``.
        roi_masks: ``(B, R, D, H, W)`` ROI fractions (node 0 liver, 1.. tumours); also the branch's two ROI
            input channels when the teacher has ``roi_channels``.
        level: encoder level pooled into nodes.

    Returns:
        ``(B, R, C_level)`` node features (:func:`~reactkd.graph.region_nodes`).
    """
    parts = [ct, roi_input_channels(roi_masks)] if teacher.inputs.roi_channels else [ct]
    levels = teacher.backbone.encoders[TeacherBranch.DOSE.value](torch.cat(parts, 1))
    return region_nodes(levels[level], roi_masks)


class DoseConsistencyModel(nn.Module):
    """:class:`SupervisedModel` plus ``loss_dose_consistency`` on the batch's unlabelled cases.

    Training ``forward(batch)`` → ``(logits, {"loss_task", "loss_dose_consistency"})`` where ``batch`` holds
    graded cases and, under ``unlabelled_*`` keys (:class:`~reactkd.train.unlabelled.WithUnlabelled`),
    unlabelled ones; a batch without them gets the focal loss alone. Evaluation is the supervised model's.
    The term is ``spec.weight`` × :func:`~reactkd.losses.dose_consistency.dose_consistency_loss` of the
    dose branch's nodes (computed in fp32 from autocast's nodes: a cosine near 1 has no digits left in bf16).

    Args:
        supervised: the stage-1 model (its ``model`` is the teacher).
        spec: the objective's settings.
        level: the dose branch's level (:func:`consistency_level`).

    Raises:
        ValueError: the teacher has no dose-aware branch, or ``level`` is not one of its levels.
    """

    def __init__(self, supervised: SupervisedModel, spec: DoseConsistencySpec, level: int) -> None:
        super().__init__()
        teacher = supervised.model
        branches = [b.value for b in getattr(teacher.inputs, "branches", [])]
        if TeacherBranch.DOSE.value not in branches:
            raise ValueError(f"unlabelled CT trains the teacher's dose-aware branch, but this teacher's branches are "
                             f"{branches}; add `dose` to teacher.branches or leave data.unlabelled_manifest out.")
        encoder = teacher.backbone.encoders[TeacherBranch.DOSE.value]
        if not 0 <= level < len(encoder.out_channels):
            raise ValueError(f"the dose consistency level must be one of the dose branch's levels "
                             f"0..{len(encoder.out_channels) - 1}, got {level!r}.")
        self.supervised, self.spec, self.level = supervised, spec, level
        self.loss = DoseConsistencyLoss(spec.edge_weight, spec.target)

    def get_learnable_parameters(self) -> list[nn.Parameter]:
        return self.supervised.get_learnable_parameters()

    def features(self, batch: Mapping[str, Any]):
        return self.supervised.features(batch)

    def consistency(self, unlabelled: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The unweighted term on unlabelled cases ``{ct, ct_lowdose, roi_masks, roi_valid}``."""
        teacher, masks = self.supervised.model, unlabelled["roi_masks"]
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.spec.target is ConsistencyTarget.SYMMETRIC):
            native = dose_branch_nodes(teacher, unlabelled["ct"], masks, self.level)
        low = dose_branch_nodes(teacher, unlabelled["ct_lowdose"], masks, self.level)
        return self.loss(native.float(), low.float(), unlabelled["roi_valid"].bool())

    def forward(self, batch: Mapping[str, Any]):
        if not self.training:
            return self.supervised(batch)
        logits, losses = self.supervised(batch)
        unlabelled = unlabelled_part(batch)
        if unlabelled is not None and self.spec.weight:
            losses["loss_dose_consistency"] = self.spec.weight * self.consistency(unlabelled)
        return logits, losses


def with_unlabelled(module: SupervisedModel, train: DataLoader, cases: UnlabelledCases, stage: TeacherStageConfig,
                    distiller_kwargs: Mapping[str, Any], runtime: Runtime, seed: int, *,
                    augment: bool) -> tuple[DoseConsistencyModel, WithUnlabelled]:
    """Stage 1's model and training loader with the unlabelled cases: :class:`DoseConsistencyModel` over
    ``module`` and the graded ``train`` loader joined with theirs (batch size and workers of ``stage``,
    seeded from the fold's ``seed``)."""
    spec = stage.dose_consistency
    loader = unlabelled_loader(cases, stage.batch_size, runtime, seed, augment=augment, num_workers=stage.num_workers)
    return DoseConsistencyModel(module, spec, consistency_level(spec, distiller_kwargs)), WithUnlabelled(train, loader)
