"""Input adapters: from the data layer's batch dict to the tensors a grading network takes.

Networks and heads take tensors only (MONAI style); an adapter is the one place that knows the batch
layout of :func:`reactkd.cohort.collate_cases` (``ct``, ``pet``, ``ct_lowdose``, ``pet_present``,
``modality_mask``, ``roi_masks``). It is an ``nn.Module`` without parameters so that modality dropout follows
the network's ``train()``/``eval()`` mode.
"""

from __future__ import annotations

import enum
from typing import Any, Mapping, NamedTuple, Sequence

import torch
import torch.nn as nn

from reactkd.cohort.modality import ModalityDropout

__all__ = ["TeacherBranch", "GradingInputs", "TeacherInputs", "StudentInputs", "roi_input_channels"]


class TeacherBranch(str, enum.Enum):
    """Teacher input branches: ``pet_ct`` = CT + PET tracers, ``dose`` = dose-degraded CT."""

    PET_CT = "pet_ct"
    DOSE = "dose"


class GradingInputs(NamedTuple):
    """What a grading network's ``forward_features`` takes.

    Attributes:
        x: ``(B, C, D, H, W)`` input channels.
        modality_mask: ``(B, 2)`` bool ``[ct_present, pet_present]`` for a PET-taking student, else None.
        roi_masks: ``(B, R, D, H, W)`` ROI fractions (node 0 = liver, 1.. = tumours) or None.
    """

    x: torch.Tensor
    modality_mask: torch.Tensor | None
    roi_masks: torch.Tensor | None


def roi_input_channels(roi_masks: torch.Tensor) -> torch.Tensor:
    """``(B, R, D, H, W)`` ROI fractions → ``(B, 2, D, H, W)`` channels ``[liver, all tumours]`` (the paper's
    intensity-masked representation, given to the network as masks)."""
    if roi_masks.ndim != 5:
        raise ValueError(f"`roi_masks` must be (B, R, D, H, W), got {tuple(roi_masks.shape)}.")
    liver = roi_masks[:, :1]
    tumour = roi_masks[:, 1:].sum(1, keepdim=True).clamp(max=1.0) if roi_masks.shape[1] > 1 else torch.zeros_like(liver)
    return torch.cat([liver, tumour], 1)


def _roi(batch: Mapping[str, Any], needed: bool) -> list[torch.Tensor]:
    if not needed:
        return []
    if "roi_masks" not in batch:
        raise ValueError(f"this network takes ROI input channels: the batch needs `roi_masks`; got {sorted(batch)}.")
    return [roi_input_channels(batch["roi_masks"])]


class TeacherInputs(nn.Module):
    """Batch → ``[ct, pet_1..pet_P, (liver, tumours)]`` then ``[ct_lowdose, (liver, tumours)]`` for the
    enabled branches in :class:`TeacherBranch` order. Absent tracers arrive as zero channels (data
    contract); the teacher is trained on them as such and consumes no modality mask.

    Args:
        branches: enabled branches, in :class:`TeacherBranch` order.
        pet_channels: PET tracer channels ``P`` of the ``pet_ct`` branch.
        roi_channels: append the two ROI channels to every branch.
    """

    def __init__(self, branches: Sequence[TeacherBranch], pet_channels: int, *, roi_channels: bool) -> None:
        super().__init__()
        self.branches = [TeacherBranch(b) for b in branches]
        self.pet_channels = int(pet_channels)
        self.roi_channels = bool(roi_channels)

    def branch_channels(self, branch: TeacherBranch) -> int:
        extra = 2 * self.roi_channels
        return (1 + self.pet_channels + extra) if branch is TeacherBranch.PET_CT else (1 + extra)

    def forward(self, batch: Mapping[str, Any]) -> GradingInputs:
        """Raises ``ValueError`` if a needed key is missing or ``pet`` has the wrong channel count."""
        parts = []
        for b in self.branches:
            keys = ("ct", "pet") if b is TeacherBranch.PET_CT else ("ct_lowdose",)
            missing = [k for k in keys if k not in batch]
            if missing:
                raise ValueError(f"teacher branch {b.value!r} needs batch keys {missing}; got {sorted(batch)}.")
            if b is TeacherBranch.PET_CT and batch["pet"].shape[1] != self.pet_channels:
                raise ValueError(f"`pet` must have {self.pet_channels} channels, "
                                 f"got shape {tuple(batch['pet'].shape)}.")
            parts.extend(batch[k] for k in keys)
            parts.extend(_roi(batch, self.roi_channels))
        return GradingInputs(torch.cat(parts, dim=1), None, batch.get("roi_masks"))


class StudentInputs(nn.Module):
    """Batch → ``[ct, (pet_1..pet_P), (liver, tumours)]`` and the declared modality mask, with
    :class:`ModalityDropout` in training mode (PET students only).

    The mask is ``batch["modality_mask"]`` when present (explicit declaration), else built from
    ``pet_present``; a CT-only student gets None.

    Args:
        pet_channels: PET channels, 0 for CT only.
        roi_channels: append the two ROI channels (never gated by the modality mask).
        modality_dropout: probability ``p`` of :class:`ModalityDropout`.
    """

    def __init__(self, pet_channels: int, *, roi_channels: bool, modality_dropout: float) -> None:
        super().__init__()
        self.pet_channels = int(pet_channels)
        self.roi_channels = bool(roi_channels)
        self.modality_dropout = ModalityDropout(modality_dropout)

    @property
    def channels(self) -> int:
        """Channels of ``x``: CT, the PET tracers, the two ROI channels when on."""
        return 1 + self.pet_channels + 2 * self.roi_channels

    def forward(self, batch: Mapping[str, Any]) -> GradingInputs:
        """Raises ``ValueError`` if ``pet`` is missing or has the wrong channel count for a PET student."""
        ct, roi = batch["ct"], _roi(batch, self.roi_channels)
        if self.pet_channels == 0:
            return GradingInputs(torch.cat([ct, *roi], dim=1), None, batch.get("roi_masks"))
        pet = batch.get("pet")
        if pet is None or pet.shape[1] != self.pet_channels:
            got = None if pet is None else tuple(pet.shape)
            raise ValueError(f"this student needs `pet` with {self.pet_channels} channels, got {got}.")
        ct, pet, mask = self.modality_dropout(ct, pet, batch.get("pet_present"), batch.get("modality_mask"))
        return GradingInputs(torch.cat([ct, pet, *roi], dim=1), mask, batch.get("roi_masks"))
