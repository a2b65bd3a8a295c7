"""Convolutional Block Attention Module for 3D feature maps (the attention shared by teacher and student),
its spec and its builder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from reactkd.utils.typed import require

__all__ = ["CBAM3D", "CBAMSpec", "make_cbam"]


@dataclass
class CBAMSpec:
    """The shared 3D CBAM (see :class:`CBAM3D` for why these defaults). A network spec's ``cbam: null``
    means no attention at all (the "w/o CBAM3D" ablation): :func:`make_cbam` builds an ``nn.Identity``."""

    reduction: int = 8
    kernel: int = 7

    def __post_init__(self) -> None:
        require(self.reduction >= 1, "reduction", self.reduction, ">= 1")
        require(self.kernel >= 1 and self.kernel % 2 == 1, "kernel", self.kernel, "a positive odd integer")


def make_cbam(cbam: nn.Module | CBAMSpec | None, channels: int) -> nn.Module:
    """The attention gating a fused map of ``channels``: a module as given (one shared with another network),
    a new :class:`CBAM3D` built from a :class:`CBAMSpec`, or ``nn.Identity()`` for ``None`` (no attention)."""
    if isinstance(cbam, nn.Module):
        return cbam
    return nn.Identity() if cbam is None else CBAM3D(channels, cbam.reduction, cbam.kernel)


class CBAM3D(nn.Module):
    """Channel attention followed by spatial attention, each a sigmoid gate (Woo et al. 2018), in 3D.

    .. math::
        M_c = \\sigma(\\mathrm{MLP}(\\mathrm{avg}(F)) + \\mathrm{MLP}(\\mathrm{max}(F))),\\quad F' = M_c \\odot F

        M_s = \\sigma(\\mathrm{conv}_{k^3}([\\mathrm{mean}_c F'; \\mathrm{max}_c F'])),\\quad F'' = M_s \\odot F'

    The bottleneck MLP (``channels → channels // reduction → channels``, at least one hidden unit) is one
    set of weights applied to both pooled descriptors. There is no batch norm after the spatial
    convolution (the original has one): this module is shared between a frozen teacher and a training
    student, and running statistics would be overwritten by whichever network ran last.

    Args:
        channels: number of input channels ``C``; REACTKD projects teacher and student features to this
            common width so that one instance serves both.
        reduction: MLP reduction ratio ``r``. Default 8: Woo et al. use 16 for ImageNet-width (256–2048)
            features; at REACTKD's fusion width (128) 16 leaves 8 hidden units, 8 leaves 16.
        spatial_kernel: odd side ``k`` of the spatial convolution. Default 7, the paper's best setting
            (a 7³ window covers most of a 12³ feature map of a 96³ volume).

    Raises:
        ValueError: if ``channels`` or ``reduction`` is not a positive int, or ``spatial_kernel`` is not a
            positive odd int.

    Example:
        >>> cbam = CBAM3D(16)
        >>> cbam(torch.randn(2, 16, 4, 4, 4)).shape
        torch.Size([2, 16, 4, 4, 4])

    References:
        Woo, Park, Lee, Kweon. "CBAM: Convolutional Block Attention Module". ECCV 2018.
    """

    def __init__(self, channels: int, reduction: int = 8, spatial_kernel: int = 7) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("reduction", reduction)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
        if not isinstance(spatial_kernel, int) or spatial_kernel < 1 or spatial_kernel % 2 == 0:
            raise ValueError(f"`spatial_kernel` must be a positive odd int, got {spatial_kernel!r}.")
        self.channels = channels
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )
        self.spatial = nn.Conv3d(2, 1, spatial_kernel, padding=spatial_kernel // 2)

    def channel_gate(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, D, H, W)`` → channel weights ``(B, C, 1, 1, 1)`` in (0, 1)."""
        flat = x.flatten(2)
        gate = torch.sigmoid(self.mlp(flat.mean(-1)) + self.mlp(flat.amax(-1)))
        return gate[..., None, None, None]

    def spatial_gate(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, D, H, W)`` → voxel weights ``(B, 1, D, H, W)`` in (0, 1)."""
        desc = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return torch.sigmoid(self.spatial(desc))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate ``x`` of shape ``(B, C, D, H, W)``; returns the same shape.

        Raises:
            ValueError: if ``x`` is not 5-D with ``channels`` channels.
        """
        if x.ndim != 5 or x.shape[1] != self.channels:
            raise ValueError(f"`x` must be (B, {self.channels}, D, H, W), got {tuple(x.shape)}.")
        x = x * self.channel_gate(x)
        return x * self.spatial_gate(x)
