"""Grading heads: ``(BackboneOutput, roi_masks) → (embedding, logits)``, built from a :class:`HeadSpec`.

A head is chosen by ``head.kind`` through :data:`HEADS` (``gap``: :class:`ClassificationHead`;
``region``: :class:`~reactkd.models.region_head.RegionHead`; ``graph``:
:class:`~reactkd.models.graph_head.GraphHead`); a new head is a new entry, not a switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn

from reactkd.models.backbones import BackboneOutput
from reactkd.models.graph_head import GraphHead
from reactkd.models.region_head import RegionHead
from reactkd.models.registry import Registry
from reactkd.models.spec import HeadKind, HeadNorm, HeadSpec
from reactkd.models.standardize import Standardize

__all__ = ["ModelFeatures", "ClassificationHead", "HEADS", "build_head", "source_channels", "feature_norm"]


@dataclass
class ModelFeatures:
    """Everything a distiller may read from one forward pass (returned by ``forward_features``).

    Attributes:
        levels: multi-scale encoder maps, shallow to deep, each ``(B, C_i, d_i, h_i, w_i)``.
        fused: the map after projection to the common width and the shared CBAM3D, ``(B, W, d, h, w)``.
        embedding: what the head classifies ``(B, E)``.
        logits: class scores ``(B, num_classes)`` (grades 1/2/3 are indices 0/1/2).
    """

    levels: list[torch.Tensor]
    fused: torch.Tensor
    embedding: torch.Tensor
    logits: torch.Tensor


class ClassificationHead(nn.Module):
    """Global average pooling of the fused map, dropout and a linear layer → ``(embedding (B, C), logits)``.

    Raises:
        ValueError: for ``num_classes`` < 2 or ``dropout`` outside [0, 1).
    """

    def __init__(self, in_channels: int, num_classes: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"`num_classes` must be >= 2, got {num_classes!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    def classify(self, embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return embedding, self.fc(self.dropout(embedding))

    def forward(self, out: BackboneOutput, roi_masks: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.classify(out.fused.flatten(2).mean(-1))


HEADS = Registry("head")
"""``head.kind`` → ``builder(spec, channels, num_classes)`` where ``channels`` maps every source name to
its channel count."""


@HEADS.register(key=HeadKind.GAP.value)
def _gap(spec: HeadSpec, channels: Mapping[str, int], num_classes: int) -> nn.Module:
    return ClassificationHead(channels["fused"], num_classes, spec.dropout)


def feature_norm(spec: HeadSpec, features: int) -> nn.Module | None:
    """The module ``spec.norm`` names for ``features`` numbers (None for ``none``)."""
    return Standardize(features) if spec.norm is HeadNorm.BATCH else None


@HEADS.register(key=HeadKind.REGION.value)
def _region(spec: HeadSpec, channels: Mapping[str, int], num_classes: int) -> nn.Module:
    widths = [channels[s] for s in spec.sources]
    size = RegionHead.embedding_size(widths, spec.geometry, len(spec.statistics))
    return RegionHead(spec.sources, widths, num_classes, spec.dropout, spec.geometry,
                      norm=feature_norm(spec, size), statistics=spec.statistics)


@HEADS.register(key=HeadKind.GRAPH.value)
def _graph(spec: HeadSpec, channels: Mapping[str, int], num_classes: int) -> nn.Module:
    widths = [channels[s] for s in spec.sources]
    return GraphHead(spec.sources, widths, num_classes, spec.dropout, spec.geometry, spec.hidden,
                     norm=feature_norm(spec, GraphHead.node_feature_size(widths, spec.geometry)))


def source_channels(in_channels: int, level_channels: list[int], fused_channels: int) -> dict[str, int]:
    """Channel count of every map a head may read: ``fused``, ``input``, ``level<i>``."""
    return {"fused": fused_channels, "input": in_channels, **{f"level{i}": c for i, c in enumerate(level_channels)}}


def build_head(spec: HeadSpec, channels: Mapping[str, int], num_classes: int) -> nn.Module:
    """The head ``spec`` describes, reading maps of the given ``channels``.

    Raises:
        ValueError: a source the backbone does not have.
    """
    missing = [s for s in spec.sources if s not in channels]
    if missing:
        raise ValueError(f"`head.sources` {missing} are not maps of this backbone; available: {sorted(channels)}.")
    return HEADS.build(spec.kind.value, spec, channels, num_classes)
