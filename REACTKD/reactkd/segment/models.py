"""MONAI segmentation networks with named multi-scale feature taps, and the width-scaled student.

Distillation needs features at several scales without a custom network: forward hooks on the MONAI
modules capture encoder and decoder outputs, so any SegResNet/SwinUNETR configuration (teacher or
student) works unchanged ("backbone-agnostic", ReCo-KD). Level names are ``enc<stride>`` and
``dec<stride>``; a teacher and its student of one family have the same names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from monai.networks.nets import SegResNet, SwinUNETR

from reactkd.segment.classes import SEG_CLASSES
from reactkd.segment.config import SegFamily

__all__ = ["SegFeatures", "SegNet", "student_kwargs", "build_seg_student", "count_parameters"]


@dataclass
class SegFeatures:
    """``logits`` ``(B, K, D, H, W)`` and ``levels`` name → ``(B, C, D/s, H/s, W/s)``."""

    logits: torch.Tensor
    levels: dict[str, torch.Tensor]


def _segresnet(in_channels: int, out_channels: int, kwargs: dict):
    kw = dict(kwargs)
    init = int(kw.get("init_filters", 8))
    # GroupNorm(8) needs widths divisible by 8; a narrow student gets as many groups as divide its width.
    kw.setdefault("norm", ("GROUP", {"num_groups": math.gcd(8, init)}))
    net = SegResNet(spatial_dims=3, in_channels=in_channels, out_channels=out_channels, **kw)
    n = len(net.blocks_down)
    taps = [(f"enc{2 ** i}", net.down_layers[i], init * 2**i) for i in range(n)]
    taps += [(f"dec{2 ** (n - 2 - i)}", net.up_layers[i], init * 2 ** (n - 2 - i)) for i in range(n - 1)]
    default = [f"enc{2 ** (n - 1)}"] + [f"dec{2 ** (n - 2 - i)}" for i in range(n - 1)]
    return net, taps, default


def _swinunetr(in_channels: int, out_channels: int, kwargs: dict):
    kw = dict(kwargs)
    fs = int(kw.setdefault("feature_size", 24))
    net = SwinUNETR(in_channels=in_channels, out_channels=out_channels, spatial_dims=3, **kw)
    taps = [("enc1", net.encoder1, fs), ("enc2", net.encoder2, fs), ("enc4", net.encoder3, 2 * fs),
            ("enc8", net.encoder4, 4 * fs), ("dec16", net.decoder5, 8 * fs), ("dec8", net.decoder4, 4 * fs),
            ("dec4", net.decoder3, 2 * fs), ("dec2", net.decoder2, fs), ("dec1", net.decoder1, fs)]
    return net, taps, ["dec8", "dec4", "dec2", "dec1"]


_BUILDERS = {SegFamily.SEGRESNET: _segresnet, SegFamily.SWINUNETR: _swinunetr}


class SegNet(nn.Module):
    """A MONAI 3-D segmentation network (``family`` + constructor ``kwargs``) with feature taps.

    ``forward(x)`` → logits ``(B, K, D, H, W)`` (what ``sliding_window_inference`` calls);
    ``forward_features(x)`` → :class:`SegFeatures` with every tapped level.

    Attributes:
        level_names, strides, out_channels: the taps, in the same order.
        default_levels: levels distilled when a distiller is not told: SegResNet's deepest encoder
            level and every decoder level; SwinUNETR's decoder levels of stride ≤ 8.

    Raises:
        ValueError: an unknown family, or constructor kwargs MONAI refuses (message names them).
    """

    def __init__(self, family: SegFamily | str = SegFamily.SEGRESNET, in_channels: int = 1,
                 out_channels: int = len(SEG_CLASSES), **kwargs) -> None:
        super().__init__()
        try:
            self.family = SegFamily(family)
        except ValueError:
            raise ValueError(f"`family` must be one of {[f.value for f in SegFamily]}, got {family!r}.") from None
        self.kwargs = dict(kwargs)
        try:
            self.net, taps, self.default_levels = _BUILDERS[self.family](in_channels, out_channels, self.kwargs)
        except TypeError as err:
            raise ValueError(f"{self.family.value} kwargs {self.kwargs}: {err}") from None
        self.in_channels, self.num_classes = in_channels, out_channels
        self.level_names = [name for name, _, _ in taps]
        self.strides = [int(name[3:]) for name in self.level_names]
        self.out_channels = [c for _, _, c in taps]
        self._captured: dict[str, torch.Tensor] | None = None
        for name, module, _ in taps:
            module.register_forward_hook(self._hook(name))

    def _hook(self, name: str):
        def keep(_module, _inputs, output):
            if self._captured is not None:  # only while forward_features runs: inference keeps nothing
                self._captured[name] = output
        return keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def forward_features(self, x: torch.Tensor) -> SegFeatures:
        self._captured = {}
        try:
            logits = self.net(x)
            return SegFeatures(logits, self._captured)
        finally:
            self._captured = None


def student_kwargs(family: SegFamily | str, teacher_kwargs: dict, shrink: int, min_channels: int,
                   overrides: dict | None = None) -> dict:
    """Constructor kwargs of the student: the teacher's with every width scaled by 2⁻ᵗ (floor ``min_channels``).

    MONAI parametrises widths by one base (SegResNet ``init_filters`` doubling per level, SwinUNETR
    ``feature_size``), so C'ᵢ = max(C_min, 2⁻ᵗ·Cᵢ) is applied to that base. SwinUNETR needs a multiple of
    12 (its attention heads), so its width is rounded up to one.
    """
    family = SegFamily(family)
    kw = dict(teacher_kwargs)
    if family is SegFamily.SEGRESNET:
        kw["init_filters"] = max(min_channels, int(kw.get("init_filters", 8)) // 2**shrink)
    else:
        fs = max(min_channels, int(kw.get("feature_size", 24)) // 2**shrink)
        kw["feature_size"] = 12 * math.ceil(fs / 12)
    kw.update(overrides or {})
    return kw


def build_seg_student(teacher: SegNet, shrink: int = 2, min_channels: int = 8, overrides: dict | None = None) -> SegNet:
    """The compact student of ``teacher``'s family (see :func:`student_kwargs`)."""
    kw = student_kwargs(teacher.family, teacher.kwargs, shrink, min_channels, overrides)
    return SegNet(teacher.family, teacher.in_channels, teacher.num_classes, **kw)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
