"""The grading head's spec: a typed union with one member per head kind (``gap``, ``region``, ``graph``).

A config writes ``head: {kind: region, sources: [input], ...}``; ``kind`` picks the member, and each member
holds only its own keys (a ``hidden`` on a region head is refused, naming the key and the kind). Each
member is defined beside the head it builds (:mod:`~reactkd.models.gap_head`,
:mod:`~reactkd.models.region_head`, :mod:`~reactkd.models.graph_head`) and builds it with
``spec.build(channels, num_classes)``; a new head is a new member, not a switch.
"""

from __future__ import annotations

import enum
import re
from typing import Mapping, Sequence

import torch.nn as nn

from reactkd.models.standardize import Standardize
from reactkd.utils.typed import Tagged, require

__all__ = ["HeadSpec", "HeadNorm", "SOURCE_PATTERN", "STATISTICS", "check_dropout", "check_sources", "feature_norm"]

SOURCE_PATTERN = re.compile(r"^(fused|input|level(\d+))$")
"""Names of the maps a head pools: the fused map, the network's input, or encoder level ``i``."""

STATISTICS = ("mean", "std")
"""What a region head pools per ROI: the weighted mean and standard deviation (:mod:`reactkd.graph.pooling`)."""


class HeadNorm(str, enum.Enum):
    """What a region or graph head does to its features before classifying them. ``batch``: per-feature
    standardisation (:class:`~reactkd.models.standardize.Standardize`) of the embedding (region head) or of
    the node features (graph head); ``none``: nothing."""

    NONE = "none"
    BATCH = "batch"


class HeadSpec(Tagged):
    """The union of head specs; ``kind`` (the member's tag) names the head."""

    def levels(self) -> list[int]:
        """The encoder levels the head reads (``level<i>`` among its sources)."""
        sources = getattr(self, "sources", ())
        return [int(m.group(2)) for m in map(SOURCE_PATTERN.match, sources) if m and m.group(2) is not None]

    def build(self, channels: Mapping[str, int], num_classes: int) -> nn.Module:  # pragma: no cover - abstract
        """The head, reading maps of the given ``channels`` (source name → channel count)."""
        raise NotImplementedError


def check_dropout(dropout: float) -> None:
    require(0.0 <= dropout < 1.0, "dropout", dropout, "in [0, 1)")


def check_sources(sources: Sequence[str]) -> None:
    bad = [s for s in sources if not SOURCE_PATTERN.match(str(s))]
    require(bool(sources) and not bad and len(set(sources)) == len(sources), "sources", sources,
            "distinct names among fused, input, level<i> (e.g. [fused, level0])")


def feature_norm(norm: HeadNorm, features: int) -> nn.Module | None:
    """The module ``norm`` names for ``features`` numbers (None for ``none``)."""
    return Standardize(features) if HeadNorm(norm) is HeadNorm.BATCH else None
