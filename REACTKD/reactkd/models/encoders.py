"""Multi-scale encoders: the Swin transformer of MONAI's SwinUNETR and the encoder half of SegResNet."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
from monai.networks.nets import SegResNet
from monai.networks.nets.swin_unetr import SwinTransformer

from reactkd.models.window_attention import keep_autocast_precision

__all__ = ["SwinEncoder", "SegResNetEncoder"]


class SwinEncoder(nn.Module):
    """The Swin transformer of MONAI ``SwinUNETR`` without its convolutional decoder (Hatamizadeh et al. 2022).

    Built as ``SwinUNETR`` builds ``self.swinViT`` (patch 2, window 7, v2 residual blocks) and kept under
    the same attribute name, so ``swinViT.*`` weights from a SwinUNETR checkpoint load unchanged. Its
    window attention keeps autocast's precision (:mod:`reactkd.models.window_attention`): the same numbers
    in fp32, bf16 attention matrices under bf16 autocast.

    Args:
        in_channels: input channels.
        feature_size: embedding width; level ``i`` has ``feature_size * 2**i`` channels. Must be a multiple
            of 12 (as SwinUNETR requires, so every stage's width divides its head count). Default 48 as in
            the paper; 12 or 24 for tests.
        depths: Swin blocks per stage. Default ``(2, 2, 2, 2)`` (SwinUNETR's).
        num_heads: attention heads per stage. Default ``(3, 6, 12, 24)`` (SwinUNETR's).
        window_size: attention window side. Default 7 (SwinUNETR's); smaller windows cut the quadratic
            attention cost (tests use 4).
        use_v2: add SwinUNETR-v2's residual convolution before each stage. Default True.
        drop_path_rate: stochastic depth. Default 0.
        use_checkpoint: gradient checkpointing (memory for time when training the teacher).

    Raises:
        ValueError: if ``feature_size`` is not a positive multiple of 12, or ``depths``/``num_heads`` do not
            both have 4 entries.

    Note:
        Inputs must have every spatial side divisible by 32 (5 halvings); ``forward`` checks it.
    """

    def __init__(
        self,
        in_channels: int,
        feature_size: int = 48,
        depths: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: int = 7,
        use_v2: bool = True,
        drop_path_rate: float = 0.0,
        use_checkpoint: bool = False,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"`in_channels` must be >= 1, got {in_channels!r}.")
        if not isinstance(feature_size, int) or feature_size < 12 or feature_size % 12:
            raise ValueError(f"`feature_size` must be a positive multiple of 12, got {feature_size!r}.")
        if len(depths) != 4 or len(num_heads) != 4:
            raise ValueError(f"`depths` and `num_heads` need 4 entries, got {tuple(depths)} and {tuple(num_heads)}.")
        if window_size < 1:
            raise ValueError(f"`window_size` must be >= 1, got {window_size!r}.")
        self.swinViT = SwinTransformer(
            in_chans=in_channels,
            embed_dim=feature_size,
            window_size=(window_size,) * 3,
            patch_size=(2, 2, 2),
            depths=depths,
            num_heads=num_heads,
            drop_path_rate=drop_path_rate,
            use_checkpoint=use_checkpoint,
            spatial_dims=3,
            use_v2=use_v2,
        )
        keep_autocast_precision(self.swinViT)
        self.in_channels = in_channels
        self.out_channels = [feature_size * 2**i for i in range(5)]
        self.strides = [2 ** (i + 1) for i in range(5)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, in_channels, D, H, W)`` → 5 layer-normalised maps ``(B, feature_size·2^i, D/2^(i+1), ...)``.

        Raises:
            ValueError: for a wrong channel count or a side not divisible by 32.
        """
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"`x` must be (B, {self.in_channels}, D, H, W), got {tuple(x.shape)}.")
        if any(s % 32 for s in x.shape[2:]):
            raise ValueError(f"SwinEncoder needs spatial sides divisible by 32, got {tuple(x.shape[2:])}.")
        return self.swinViT(x, normalize=True)


class SegResNetEncoder(nn.Module):
    """The encoder half of MONAI ``SegResNet`` (Myronenko 2018): ``convInit`` then residual down stages.

    The decoder that ``SegResNet`` builds is dropped; ``convInit`` and ``down_layers`` keep SegResNet's
    names so its checkpoints load with ``strict=False``.

    Args:
        in_channels: input channels.
        init_filters: width of the first stage; stage ``i`` has ``init_filters * 2**i`` channels at stride
            ``2**i``. Default 8 (1.1 M parameters for the full SegResNet); 16 is the other
            measured setting.
        blocks_down: residual blocks per stage. Default ``(1, 2, 2, 4)`` (SegResNet's).
        norm_groups: group-norm groups; must divide ``init_filters``. Default 8 (SegResNet's).
        dropout_prob: dropout after ``convInit``; default None (off).

    Raises:
        ValueError: if ``init_filters`` is not a positive multiple of ``norm_groups``.
    """

    def __init__(
        self,
        in_channels: int,
        init_filters: int = 8,
        blocks_down: Sequence[int] = (1, 2, 2, 4),
        norm_groups: int = 8,
        dropout_prob: float | None = None,
    ) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"`in_channels` must be >= 1, got {in_channels!r}.")
        if init_filters < 1 or norm_groups < 1 or init_filters % norm_groups:
            raise ValueError(
                f"`init_filters` must be a positive multiple of `norm_groups`={norm_groups}, got {init_filters!r}."
            )
        net = SegResNet(
            spatial_dims=3,
            init_filters=init_filters,
            in_channels=in_channels,
            blocks_down=tuple(blocks_down),
            norm=("GROUP", {"num_groups": norm_groups}),
            dropout_prob=dropout_prob,
        )
        self.convInit = net.convInit
        self.down_layers = net.down_layers
        self.dropout = net.dropout if dropout_prob is not None else nn.Identity()
        self.in_channels = in_channels
        self.out_channels = [init_filters * 2**i for i in range(len(blocks_down))]
        self.strides = [2**i for i in range(len(blocks_down))]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, in_channels, D, H, W)`` → one map per stage, ``(B, init_filters·2^i, D/2^i, ...)``.

        Raises:
            ValueError: for a wrong channel count or a side not divisible by ``2**(stages-1)``.
        """
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(f"`x` must be (B, {self.in_channels}, D, H, W), got {tuple(x.shape)}.")
        if any(s % self.strides[-1] for s in x.shape[2:]):
            raise ValueError(f"SegResNetEncoder needs sides divisible by {self.strides[-1]}, got {tuple(x.shape[2:])}.")
        x = self.dropout(self.convInit(x))
        feats = []
        for down in self.down_layers:
            x = down(x)
            feats.append(x)
        return feats
