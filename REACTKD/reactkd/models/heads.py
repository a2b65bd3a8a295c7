"""Grading heads: ``(BackboneOutput, roi_masks) → (embedding, logits)``, built from a head spec.

Every head kind is a member of :class:`~reactkd.models.head_spec.HeadSpec` defined beside its head
(``gap``: :class:`~reactkd.models.gap_head.ClassificationHead`; ``region``:
:class:`~reactkd.models.region_head.RegionHead`; ``graph``: :class:`~reactkd.models.graph_head.GraphHead`);
importing this module defines all three. A new head is a new member, not a switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn

from reactkd.models.gap_head import ClassificationHead, GapHeadSpec
from reactkd.models.graph_head import GraphHeadSpec
from reactkd.models.head_spec import HeadSpec
from reactkd.models.region_head import RegionHeadSpec

__all__ = ["ModelFeatures", "ClassificationHead", "HeadSpec", "GapHeadSpec", "RegionHeadSpec", "GraphHeadSpec",
           "build_head", "source_channels"]


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


def source_channels(in_channels: int, level_channels: list[int], fused_channels: int) -> dict[str, int]:
    """Channel count of every map a head may read: ``fused``, ``input``, ``level<i>``."""
    return {"fused": fused_channels, "input": in_channels, **{f"level{i}": c for i, c in enumerate(level_channels)}}


def build_head(spec: HeadSpec, channels: Mapping[str, int], num_classes: int) -> nn.Module:
    """The head ``spec`` describes, reading maps of the given ``channels``.

    Raises:
        ValueError: a source the backbone does not have.
    """
    missing = [s for s in getattr(spec, "sources", ()) if s not in channels]
    if missing:
        raise ValueError(f"`head.sources` {missing} are not maps of this backbone; available: {sorted(channels)}.")
    return spec.build(channels, num_classes)
