"""CT (or CT + PET) student: SegResNet encoder, the CBAM3D shared with the teacher, grading head."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn

from .cbam import CBAM3D
from .encoders import SegResNetEncoder
from .heads import FeatureProjection, ModelFeatures
from .modality import ModalityDropout, check_modality_mask
from reactkd.utils.enums import parse_enum

from .region_head import HeadKind, build_head, check_head_levels, check_region_switch, roi_input_channels, run_head

__all__ = ["Student"]


class Student(nn.Module):
    """REACT-KD student: MONAI SegResNet encoder → projection to the common width → CBAM3D → head.

    **CBAM sharing.** Pass the teacher's ``cbam`` to share it: the very same module instance then gates
    the teacher's fused map and the student's projected deepest map (both at ``fusion_channels``), so
    there is one set of attention weights, not a copy. ``cbam_trainable`` decides whether the student
    trains it. Default (None) resolves to False for a shared instance, because the instance also sits
    inside the teacher: training it would move the teacher's fused features and logits, i.e. the
    distillation targets, while the student learns. With True both networks see the updated attention
    (the teacher still runs without gradients). Without a shared instance the student owns a fresh,
    trainable CBAM3D. The student's ``state_dict`` contains the CBAM weights either way, so a student
    checkpoint is self-contained.

    **Inputs.** ``pet_channels=0`` (default) gives the CT-only student. With ``pet_channels=P`` the input
    is ``[ct, pet_1..pet_P]`` and, when ``modality_indicators`` (default: on iff ``P > 0``), forward
    needs the explicit ``(B, 2)`` bool ``modality_mask`` ``[ct_present, pet_present]``: declared-absent
    channels are zeroed and the mask is appended as two constant channels, so absence is never guessed
    from zeros.

    Args:
        num_classes: grades. Default 3.
        pet_channels: PET channels in the input, 0 for CT only. Default 0.
        init_filters: SegResNet first-stage width. Default 8 (see :class:`SegResNetEncoder`).
        blocks_down: SegResNet residual blocks per stage. Default ``(1, 2, 2, 4)``.
        fusion_channels: common width ``W``; must equal the shared CBAM3D's ``channels``. Default 128.
        cbam: a CBAM3D to share (normally ``teacher.cbam``); None builds an own one.
        cbam_trainable: whether the student trains the CBAM3D; None → False if shared, True if own.
        cbam_reduction: reduction of an own CBAM3D. Default 8.
        cbam_kernel: spatial kernel of an own CBAM3D. Default 7.
        modality_indicators: append the modality mask as input channels; None → ``pet_channels > 0``.
        modality_dropout: probability ``p`` of :class:`ModalityDropout` used by :meth:`batch_inputs` in
            training mode (PET students only). Default 0.3.
        dropout: head dropout. Default 0.
        roi_channels: append ``[liver, tumours]`` ROI fractions from ``batch["roi_masks"]`` as two more input
            channels (never gated by the modality mask). Default False.
        head: ``"gap"`` (global average pooling, default) or ``"region"`` (:class:`RegionHead`: pooled over
            the tumours and the liver; forward then needs ``roi_masks``).
        head_levels: encoder levels whose maps a region head also pools (multi-scale, see
            :class:`RegionHead`). Default none.
        head_input: a region head also pools the encoder's input (mean CT attenuation and PET uptake in the
            tumours and their contrast to the liver; blanked modalities pool to 0). Default False.
        head_geometry: a region head also reads the region graph's geometry (tumour count, burden, spread;
            :func:`~reactkd.models.region_head.roi_geometry`). Default False.
        use_cbam: False for an identity in place of an own CBAM3D (ablation); a shared instance decides
            for itself. Default True.

    Raises:
        ValueError: if ``cbam.channels`` differs from ``fusion_channels``, or ``pet_channels`` < 0.

    Example:
        >>> s = Student(init_filters=8, fusion_channels=16)
        >>> s(torch.randn(2, 1, 16, 16, 16)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        num_classes: int = 3,
        pet_channels: int = 0,
        init_filters: int = 8,
        blocks_down: Sequence[int] = (1, 2, 2, 4),
        fusion_channels: int = 128,
        cbam: CBAM3D | None = None,
        cbam_trainable: bool | None = None,
        cbam_reduction: int = 8,
        cbam_kernel: int = 7,
        modality_indicators: bool | None = None,
        modality_dropout: float = 0.3,
        dropout: float = 0.0,
        head: HeadKind | str = HeadKind.GAP,
        roi_channels: bool = False,
        head_levels: Sequence[int] = (),
        head_input: bool = False,
        head_geometry: bool = False,
        use_cbam: bool = True,
    ) -> None:
        super().__init__()
        if pet_channels < 0:
            raise ValueError(f"`pet_channels` must be >= 0, got {pet_channels!r}.")
        if cbam is not None and cbam.channels != fusion_channels:
            raise ValueError(
                f"shared `cbam` has {cbam.channels} channels but `fusion_channels` is {fusion_channels}; "
                "build the student with the teacher's fusion_channels."
            )
        self.pet_channels = pet_channels
        self.modality_indicators = pet_channels > 0 if modality_indicators is None else bool(modality_indicators)
        self.roi_channels = 2 if roi_channels else 0
        self.in_channels = 1 + pet_channels + self.roi_channels
        self.encoder = SegResNetEncoder(
            self.in_channels + 2 * self.modality_indicators, init_filters, blocks_down=blocks_down
        )
        self.out_channels = self.encoder.out_channels
        self.strides = self.encoder.strides
        self.project = FeatureProjection(self.out_channels[-1], fusion_channels)
        self.cbam_shared = cbam is not None
        self.cbam = cbam if cbam is not None else CBAM3D(fusion_channels, cbam_reduction, cbam_kernel, use_cbam)
        self.cbam_trainable = (not self.cbam_shared) if cbam_trainable is None else bool(cbam_trainable)
        self.cbam.requires_grad_(self.cbam_trainable)
        self.head_kind = parse_enum(HeadKind, head, "head")
        self.head_levels = check_head_levels(head_levels, len(self.out_channels), self.head_kind)
        self.head_input = check_region_switch(head_input, self.head_kind, "head_input")
        geometry = check_region_switch(head_geometry, self.head_kind, "head_geometry")
        encoder_in = self.in_channels + 2 * self.modality_indicators
        self.head = build_head(self.head_kind, fusion_channels, num_classes, dropout,
                               [encoder_in] * self.head_input + [self.out_channels[i] for i in self.head_levels],
                               geometry)
        self.modality_dropout = ModalityDropout(modality_dropout)

    def batch_inputs(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Build ``(x, modality_mask)`` from a batch; applies modality dropout in training mode.

        Uses ``batch["modality_mask"]`` when present (explicit declaration), else ``pet_present``.
        CT-only students return ``(batch["ct"], None)``.

        Raises:
            ValueError: if ``pet`` is missing or has the wrong channel count for a PET student.
        """
        ct = batch["ct"]
        roi = [roi_input_channels(batch["roi_masks"])] if self.roi_channels else []
        if self.pet_channels == 0:
            return torch.cat([ct, *roi], dim=1), None
        pet = batch.get("pet")
        if pet is None or pet.shape[1] != self.pet_channels:
            got = None if pet is None else tuple(pet.shape)
            raise ValueError(f"this student needs `pet` with {self.pet_channels} channels, got {got}.")
        ct, pet, mask = self.modality_dropout(ct, pet, batch.get("pet_present"), batch.get("modality_mask"))
        return torch.cat([ct, pet, *roi], dim=1), mask

    def _encoder_input(self, x: torch.Tensor, modality_mask: torch.Tensor | None) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"`x` must be (B, {self.in_channels}, D, H, W), got {tuple(x.shape)}.")
        if not self.modality_indicators:
            return x
        if modality_mask is None:
            raise ValueError(
                "this student takes PET: pass `modality_mask` (B, 2) bool [ct_present, pet_present]; "
                "missing modalities are declared, not guessed from zeros."
            )
        mask = check_modality_mask(modality_mask.to(x.device), x.shape[0]).to(x.dtype)
        gate = torch.cat([mask[:, :1], mask[:, 1:].expand(-1, self.pet_channels),
                          mask.new_ones(mask.shape[0], self.roi_channels)], dim=1)
        x = x * gate[..., None, None, None]
        return torch.cat([x, mask[..., None, None, None].expand(-1, -1, *x.shape[2:])], dim=1)

    def forward_features(self, x: torch.Tensor, modality_mask: torch.Tensor | None = None,
                         roi_masks: torch.Tensor | None = None) -> ModelFeatures:
        """Encode ``x`` ``(B, 1 + pet_channels, D, H, W)`` (sides divisible by 8 with 4 stages).

        Returns:
            :class:`ModelFeatures`; ``levels[i]`` is ``(B, init_filters·2^i, D/2^i, ...)``.

        Raises:
            ValueError: for a wrong input shape, or a PET student called without ``modality_mask``.
        """
        x = self._encoder_input(x, modality_mask)
        levels = self.encoder(x)
        fused = self.cbam(self.project(levels[-1]))
        embedding, logits = run_head(self, levels, fused, roi_masks, x)
        return ModelFeatures(levels=levels, fused=fused, embedding=embedding, logits=logits)

    def forward(self, x: torch.Tensor, modality_mask: torch.Tensor | None = None,
                roi_masks: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 1 + pet_channels, D, H, W)`` → logits ``(B, num_classes)``."""
        return self.forward_features(x, modality_mask, roi_masks).logits

    def features_from_batch(self, batch: Mapping[str, torch.Tensor]) -> ModelFeatures:
        """:meth:`batch_inputs` then :meth:`forward_features` (with ``roi_masks`` for a region head)."""
        x, mask = self.batch_inputs(batch)
        return self.forward_features(x, mask, batch.get("roi_masks") if self.head_kind is HeadKind.REGION else None)
