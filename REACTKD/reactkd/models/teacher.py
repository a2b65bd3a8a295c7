"""Dual-branch PET/CT + dose teacher: two Swin encoders fused through the shared CBAM3D."""

from __future__ import annotations

import enum
from typing import Mapping, Sequence

import torch
import torch.nn as nn

from .cbam import CBAM3D
from .encoders import SwinEncoder
from .heads import FeatureProjection, ModelFeatures
from reactkd.utils.enums import parse_enum

from .region_head import HeadKind, build_head, check_head_levels, check_region_switch, roi_input_channels, run_head

__all__ = ["TeacherBranch", "Teacher"]


class TeacherBranch(str, enum.Enum):
    """Teacher input branches: ``pet_ct`` = CT + PET tracers, ``dose`` = dose-degraded CT."""

    PET_CT = "pet_ct"
    DOSE = "dose"


class Teacher(nn.Module):
    """REACT-KD teacher: one SwinUNETR encoder per branch, fused by projection + CBAM3D, then a grading head.

    ``forward`` takes one tensor, the channel concatenation of the enabled branches' inputs in
    :class:`TeacherBranch` order (``[ct, pet_1..pet_P]`` then ``[ct_lowdose]``), so the teacher is a
    plain single-input classifier; :meth:`batch_inputs` builds that tensor from a data-layer batch. The
    deepest map of each branch (level ``fusion_level``) is concatenated over channels, projected to
    ``fusion_channels`` and gated by :attr:`cbam`, the module the student shares. Either branch alone
    is a valid configuration (the "w/o dose teacher" / "w/o PET" ablations). Absent tracers arrive as
    zero channels (data contract) and the teacher is trained on them as such; it is never deployed, so
    unlike the PET-taking student it consumes no modality mask.

    Args:
        num_classes: grades. Default 3.
        pet_channels: PET tracer channels ``P`` of the ``pet_ct`` branch. Default 2 (FDG, acetate).
        branches: enabled branches, any non-empty subset of :class:`TeacherBranch`. Default both.
        feature_size: Swin embedding width; 48 in the paper (default), multiples of 12.
        fusion_channels: common width ``W`` of the fused map, shared with the student's CBAM3D. Default 128.
        fusion_level: encoder level (0–4) that is fused. Default 4, the deepest (stride 32).
        cbam_reduction: CBAM3D MLP reduction. Default 8 (see :class:`CBAM3D`).
        cbam_kernel: CBAM3D spatial kernel. Default 7.
        dropout: head dropout. Default 0.
        roi_channels: append ``[liver, tumours]`` ROI fractions as two more channels of every branch. Default False.
        head: ``"gap"`` (default) or ``"region"`` (see :class:`~reactkd.models.region_head.RegionHead`).
        head_levels: encoder levels (branches concatenated) a region head also pools. Default none.
        head_input: a region head also pools the input channels (ROI mean attenuation/uptake). Default False.
        head_geometry: a region head also reads tumour count, burden and spread (``roi_geometry``). Default False.
        use_cbam: False replaces the CBAM3D by an identity (the ablation's "w/o CBAM3D"). Default True.
        **swin_kwargs: passed to :class:`SwinEncoder` (``depths``, ``num_heads``, ``use_checkpoint`` ...).

    Raises:
        ValueError: for an empty or unknown branch, ``pet_channels`` < 1 with the PET branch, or
            ``fusion_level`` outside 0–4.

    Example:
        >>> t = Teacher(feature_size=12, fusion_channels=16)
        >>> t(torch.randn(1, 4, 32, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(
        self,
        num_classes: int = 3,
        pet_channels: int = 2,
        branches: Sequence[str | TeacherBranch] = (TeacherBranch.PET_CT, TeacherBranch.DOSE),
        feature_size: int = 48,
        fusion_channels: int = 128,
        fusion_level: int = 4,
        cbam_reduction: int = 8,
        cbam_kernel: int = 7,
        dropout: float = 0.0,
        head: HeadKind | str = HeadKind.GAP,
        roi_channels: bool = False,
        head_levels: Sequence[int] = (),
        head_input: bool = False,
        head_geometry: bool = False,
        use_cbam: bool = True,
        **swin_kwargs,
    ) -> None:
        super().__init__()
        if isinstance(branches, (str, TeacherBranch)):
            branches = [branches]
        try:
            chosen = {TeacherBranch(b) for b in branches}
        except ValueError:
            raise ValueError(
                f"`branches` must be a subset of {[b.value for b in TeacherBranch]}, got {list(branches)!r}."
            ) from None
        if not chosen:
            raise ValueError(f"`branches` must name at least one of {[b.value for b in TeacherBranch]}, got [].")
        self.branches = [b for b in TeacherBranch if b in chosen]
        if TeacherBranch.PET_CT in chosen and pet_channels < 1:
            raise ValueError(f"`pet_channels` must be >= 1 with the pet_ct branch, got {pet_channels!r}.")
        if fusion_level not in range(5):
            raise ValueError(f"`fusion_level` must be in 0..4, got {fusion_level!r}.")
        self.pet_channels = pet_channels
        self.fusion_level = fusion_level
        self.roi_channels = 2 if roi_channels else 0
        self.branch_channels = {TeacherBranch.PET_CT: 1 + pet_channels + self.roi_channels,
                                TeacherBranch.DOSE: 1 + self.roi_channels}
        self.encoders = nn.ModuleDict(
            {b.value: SwinEncoder(self.branch_channels[b], feature_size, **swin_kwargs) for b in self.branches}
        )
        self.in_channels = sum(self.branch_channels[b] for b in self.branches)
        per_branch = self.encoders[self.branches[0].value].out_channels
        self.out_channels = [c * len(self.branches) for c in per_branch]
        self.strides = self.encoders[self.branches[0].value].strides
        self.project = FeatureProjection(self.out_channels[fusion_level], fusion_channels)
        self.cbam = CBAM3D(fusion_channels, cbam_reduction, cbam_kernel, enabled=use_cbam)
        self.head_kind = parse_enum(HeadKind, head, "head")
        self.head_levels = check_head_levels(head_levels, len(self.out_channels), self.head_kind)
        self.head_input = check_region_switch(head_input, self.head_kind, "head_input")
        geometry = check_region_switch(head_geometry, self.head_kind, "head_geometry")
        self.head = build_head(self.head_kind, fusion_channels, num_classes, dropout,
                               [self.in_channels] * self.head_input + [self.out_channels[i] for i in self.head_levels],
                               geometry)

    def batch_inputs(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Build the ``(B, in_channels, D, H, W)`` input from a batch with ``ct``, ``pet``, ``ct_lowdose``.

        Raises:
            ValueError: if a needed key is missing or ``pet`` has the wrong channel count.
        """
        parts = []
        for b in self.branches:
            keys = ("ct", "pet") if b is TeacherBranch.PET_CT else ("ct_lowdose",)
            missing = [k for k in keys if k not in batch]
            if missing:
                raise ValueError(f"teacher branch {b.value!r} needs batch keys {missing}; got {sorted(batch)}.")
            if b is TeacherBranch.PET_CT and batch["pet"].shape[1] != self.pet_channels:
                raise ValueError(
                    f"`pet` must have {self.pet_channels} channels, got shape {tuple(batch['pet'].shape)}."
                )
            parts.extend(batch[k] for k in keys)
            if self.roi_channels:
                parts.append(roi_input_channels(batch["roi_masks"]))
        return torch.cat(parts, dim=1)

    def forward_features(self, x: torch.Tensor, roi_masks: torch.Tensor | None = None) -> ModelFeatures:
        """Encode ``x`` ``(B, in_channels, D, H, W)`` (sides divisible by 32).

        Returns:
            :class:`ModelFeatures` whose ``levels`` are 5 maps with the branches concatenated over channels,
            ``(B, out_channels[i], D/2^(i+1), ...)``.

        Raises:
            ValueError: for a wrong channel count or spatial size.
        """
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"`x` must be (B, {self.in_channels}, D, H, W), got {tuple(x.shape)}.")
        per_branch, start = [], 0
        for b in self.branches:
            width = self.branch_channels[b]
            per_branch.append(self.encoders[b.value](x[:, start : start + width]))
            start += width
        levels = [torch.cat(maps, dim=1) if len(maps) > 1 else maps[0] for maps in zip(*per_branch)]
        fused = self.cbam(self.project(levels[self.fusion_level]))
        embedding, logits = run_head(self, levels, fused, roi_masks, x)
        return ModelFeatures(levels=levels, fused=fused, embedding=embedding, logits=logits)

    def forward(self, x: torch.Tensor, roi_masks: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, in_channels, D, H, W)`` → logits ``(B, num_classes)``."""
        return self.forward_features(x, roi_masks).logits

    def features_from_batch(self, batch: Mapping[str, torch.Tensor]) -> ModelFeatures:
        """:meth:`batch_inputs` then :meth:`forward_features` (with ``roi_masks`` for a region head)."""
        roi = batch.get("roi_masks") if self.head_kind is HeadKind.REGION else None
        return self.forward_features(self.batch_inputs(batch), roi)
