"""Backbones of the grading networks: tensors in, multi-scale ``levels`` and the CBAM-gated ``fused`` map out.

* :class:`SwinFusionBackbone` — the teacher: one MONAI SwinUNETR encoder per input branch, the maps of
  one level concatenated, projected to the common width and gated by the shared CBAM3D.
* :class:`SegResNetBackbone` — the student: a MONAI SegResNet encoder whose deepest map is projected to
  the common width and gated by the same CBAM3D instance.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import torch
import torch.nn as nn

from reactkd.cohort.modality import check_modality_mask
from reactkd.models.cbam import CBAM3D, CBAMSpec, make_cbam
from reactkd.models.encoders import SegResNetEncoder, SwinEncoder

__all__ = ["BackboneOutput", "FeatureProjection", "SwinFusionBackbone", "SegResNetBackbone"]


class BackboneOutput(NamedTuple):
    """Attributes:
        levels: encoder maps, shallow to deep, each ``(B, C_i, d_i, h_i, w_i)``.
        fused: the projected, CBAM-gated map ``(B, W, d, h, w)``.
        input: the tensor the encoder saw ``(B, C_in, D, H, W)`` (after modality gating and indicators).
    """

    levels: list[torch.Tensor]
    fused: torch.Tensor
    input: torch.Tensor

    def source(self, name: str) -> torch.Tensor:
        """The map a head names: ``fused``, ``input`` or ``level<i>``."""
        if name in ("fused", "input"):
            return getattr(self, name)
        return self.levels[int(name[len("level"):])]

    def with_source(self, name: str, tensor: torch.Tensor) -> "BackboneOutput":
        """This output with the map ``name`` replaced (e.g. by a leaf tensor to take a head's gradient on)."""
        if name in ("fused", "input"):
            return self._replace(**{name: tensor})
        levels = list(self.levels)
        levels[int(name[len("level"):])] = tensor
        return self._replace(levels=levels)


class FeatureProjection(nn.Sequential):
    """1×1×1 convolution + ReLU taking ``(B, in_channels, ...)`` to ``(B, out_channels, ...)``.

    No normalisation layer: the teacher's deepest Swin map is 1³ for a 32³ input, where instance
    norm would zero it.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channel counts must be >= 1, got in={in_channels!r}, out={out_channels!r}.")
        super().__init__(nn.Conv3d(in_channels, out_channels, kernel_size=1), nn.ReLU(inplace=True))


class SwinFusionBackbone(nn.Module):
    """``(B, Σ branch_channels, D, H, W)`` (sides divisible by 32) → :class:`BackboneOutput`.

    The input is the channel concatenation of the branches' inputs; ``levels[i]`` concatenates the
    branches' level-``i`` maps over channels, ``(B, out_channels[i], D/2^(i+1), ...)``.

    Args:
        branch_channels: input channels of each branch by name, in input order.
        feature_size: Swin embedding width (multiple of 12).
        fusion_channels: common width ``W`` (= the CBAM3D's channels).
        fusion_level: encoder level (0–4) that is fused.
        cbam: the attention gating the projected map: a module to share, or the
            :class:`~reactkd.models.cbam.CBAMSpec` of a new CBAM3D (built after the projection), or None
            (no attention; see :func:`~reactkd.models.cbam.make_cbam`).
        **swin_kwargs: :class:`SwinEncoder` options (``depths``, ``num_heads``, ``window_size`` …).
    """

    def __init__(self, branch_channels: Mapping[str, int], feature_size: int, fusion_channels: int, fusion_level: int,
                 cbam: nn.Module | CBAMSpec | None, **swin_kwargs) -> None:
        super().__init__()
        self.branch_channels = [int(c) for c in branch_channels.values()]
        self.encoders = nn.ModuleDict({name: SwinEncoder(c, feature_size, **swin_kwargs)
                                       for name, c in branch_channels.items()})
        first = next(iter(self.encoders.values()))
        self.in_channels = sum(self.branch_channels)
        self.out_channels = [c * len(self.branch_channels) for c in first.out_channels]
        self.strides = first.strides
        self.fusion_level = fusion_level
        self.project = FeatureProjection(self.out_channels[fusion_level], fusion_channels)
        self.cbam = make_cbam(cbam, fusion_channels)

    def forward(self, x: torch.Tensor, modality_mask: torch.Tensor | None = None) -> BackboneOutput:
        """Raises ``ValueError`` for a wrong channel count or spatial size."""
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"`x` must be (B, {self.in_channels}, D, H, W), got {tuple(x.shape)}.")
        per_branch = [enc(part) for enc, part in zip(self.encoders.values(), x.split(self.branch_channels, dim=1))]
        levels = [torch.cat(maps, dim=1) if len(maps) > 1 else maps[0] for maps in zip(*per_branch)]
        return BackboneOutput(levels, self.cbam(self.project(levels[self.fusion_level])), x)


class SegResNetBackbone(nn.Module):
    """``(B, in_channels, D, H, W)`` (sides divisible by ``2**(stages-1)``) → :class:`BackboneOutput`.

    With ``indicators`` the ``(B, 2)`` bool ``modality_mask`` ``[ct_present, pet_present]`` is required:
    declared-absent channels (CT; the ``pet_channels`` after it) are zeroed and the mask is appended as two
    constant channels, so absence is never guessed from zeros. ``levels[i]`` is
    ``(B, init_filters·2^i, D/2^i, ...)``.

    Args:
        in_channels: ``1 + pet_channels + roi channels``.
        pet_channels: PET channels after the CT (gated by ``modality_mask[:, 1]``).
        indicators: append the modality mask as input channels.
        init_filters, blocks_down: see :class:`SegResNetEncoder`.
        fusion_channels: common width ``W``; must equal ``cbam.channels``.
        cbam: the attention gating the projected map: normally the teacher's module, shared; else the
            :class:`~reactkd.models.cbam.CBAMSpec` of an own CBAM3D, or None (no attention).
    """

    def __init__(self, in_channels: int, pet_channels: int, *, indicators: bool, init_filters: int,
                 blocks_down: Sequence[int], fusion_channels: int, cbam: nn.Module | CBAMSpec | None) -> None:
        super().__init__()
        if isinstance(cbam, CBAM3D) and cbam.channels != fusion_channels:
            raise ValueError(f"the CBAM3D has {cbam.channels} channels but `fusion_channels` is {fusion_channels}; "
                             "build the student with the teacher's fusion_channels.")
        self.in_channels, self.pet_channels, self.indicators = in_channels, pet_channels, bool(indicators)
        self.encoder = SegResNetEncoder(in_channels + 2 * self.indicators, init_filters, blocks_down=blocks_down)
        self.out_channels = self.encoder.out_channels
        self.strides = self.encoder.strides
        self.project = FeatureProjection(self.out_channels[-1], fusion_channels)
        self.cbam = make_cbam(cbam, fusion_channels)

    def stem(self, x: torch.Tensor, modality_mask: torch.Tensor | None) -> torch.Tensor:
        """Gate declared-absent modalities and append the indicator channels."""
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"`x` must be (B, {self.in_channels}, D, H, W), got {tuple(x.shape)}.")
        if not self.indicators:
            return x
        if modality_mask is None:
            raise ValueError("this student takes PET: pass `modality_mask` (B, 2) bool [ct_present, pet_present]; "
                             "missing modalities are declared, not guessed from zeros.")
        mask = check_modality_mask(modality_mask.to(x.device), x.shape[0]).to(x.dtype)
        rest = self.in_channels - 1 - self.pet_channels
        gate = torch.cat([mask[:, :1], mask[:, 1:].expand(-1, self.pet_channels), mask.new_ones(mask.shape[0], rest)],
                         1)
        x = x * gate[..., None, None, None]
        return torch.cat([x, mask[..., None, None, None].expand(-1, -1, *x.shape[2:])], dim=1)

    def forward(self, x: torch.Tensor, modality_mask: torch.Tensor | None = None) -> BackboneOutput:
        """Raises ``ValueError`` for a wrong input shape, or a PET student called without ``modality_mask``."""
        x = self.stem(x, modality_mask)
        levels = self.encoder(x)
        return BackboneOutput(levels, self.cbam(self.project(levels[-1])), x)
