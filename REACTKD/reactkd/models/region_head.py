"""A region-aware grading head: classify from named maps pooled over the tumours and over the liver; its spec."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch
import torch.nn as nn

from reactkd.graph.pooling import area_resize, masked_average_pool, masked_std_pool
from reactkd.models.head_spec import STATISTICS, HeadNorm, HeadSpec, check_dropout, check_sources, feature_norm
from reactkd.models.inputs import roi_input_channels
from reactkd.utils.typed import require

__all__ = ["RegionHead", "RegionHeadSpec", "roi_geometry"]


def roi_geometry(roi_masks: torch.Tensor) -> torch.Tensor:
    """``(B, R, D, H, W)`` ROI fractions → ``(B, 3)`` region-graph geometry per case:
    ``[log(1 + tumour count), log(tumour volume / liver volume + 10⁻³), spread]``.

    Spread is the mean distance of the tumour centroids from the largest tumour's, in units of the liver's
    size (cube root of its volume); 0 with fewer than two tumours. A tumour is a node whose mask is not
    empty (zero padding is not counted). Multifocality, burden and intrahepatic spread are grade-linked
    and read from the segmentation alone, so a CT-only model keeps them.
    """
    if roi_masks.ndim != 5 or roi_masks.shape[1] < 1:
        raise ValueError(f"`roi_masks` must be (B, R>=1, D, H, W), got {tuple(roi_masks.shape)}.")
    m = roi_masks.float()
    mass = m.flatten(2).sum(2)  # (B, R)
    liver, tumours = mass[:, 0].clamp_min(1.0), mass[:, 1:]
    present = tumours > 0
    count = present.sum(1).float()
    burden = torch.log(tumours.sum(1) / liver + 1e-3)
    grids = torch.meshgrid(*[torch.arange(n, device=m.device, dtype=m.dtype) for n in m.shape[2:]], indexing="ij")
    coords = torch.stack([g.flatten() for g in grids], 1)  # (V, 3)
    centroids = (m[:, 1:].flatten(2) @ coords) / tumours.clamp_min(1e-6)[..., None]  # (B, R-1, 3)
    spread = torch.zeros_like(count)
    if tumours.shape[1]:
        ref = centroids[torch.arange(m.shape[0]), tumours.argmax(1)]  # (B, 3): the largest tumour
        dist = (centroids - ref[:, None]).norm(dim=2) * present
        spread = torch.where(count > 1, dist.sum(1) / (count - 1).clamp_min(1), spread) / liver.pow(1 / 3)
    return torch.stack([torch.log1p(count), burden, spread], 1).to(roi_masks.dtype)


_POOLS = {"mean": masked_average_pool, "std": masked_std_pool}


class RegionHead(nn.Module):
    """``(BackboneOutput, roi_masks (B, R, D, H, W))`` → ``(embedding (B, 2·S·ΣC_s [+3]), logits (B, K))``.

    Each source map ``s`` (``fused``, ``input``, ``level<i>``) is pooled over all tumours together and over
    the liver with the ROI masks area-resized to its resolution, giving ``[h_tumour, h_tumour − h_liver]``
    for each of the ``S`` statistics (the mean; with ``std`` also the standard deviation, the region's
    heterogeneity); a case without a tumour pools the liver in both places (contrast 0). Grade is a
    property of the tumour relative to its liver background (FDG and acetate uptake ratios, wash-out,
    texture), which a global average over the whole grid dilutes. Pooling a shallow level or the input keeps
    a 1–3-voxel tumour's contrast that the coarse fused map blurs; ``input`` gives the first-order ROI
    statistics radiologists read (tumour-to-liver SUV ratio, wash-out in HU). With ``geometry`` the three
    numbers of :func:`roi_geometry` (tumour count, burden, spread) join the embedding: pooling all tumours
    together hides how many there are and how far apart.

    Args:
        sources: names of the pooled maps, in embedding order.
        channels: channel count of each source.
        num_classes: grades. Default 3.
        dropout: before the linear layer, in [0, 1). Default 0.
        geometry: append :func:`roi_geometry`. Default False.
        norm: applied to the embedding before the classifier (e.g.
            :class:`~reactkd.models.standardize.Standardize`); the returned embedding is the normalised one.
            Default None.
        statistics: pooled per ROI, in embedding order, among ``mean`` and ``std``. Default ``("mean",)``.
    """

    def __init__(self, sources: Sequence[str], channels: Sequence[int], num_classes: int = 3, dropout: float = 0.0,
                 *, geometry: bool = False, norm: nn.Module | None = None,
                 statistics: Sequence[str] = ("mean",)) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
        unknown = [s for s in statistics if s not in _POOLS]
        if not statistics or unknown:
            raise ValueError(f"`statistics` must be a non-empty list among {sorted(_POOLS)}, got {list(statistics)}.")
        self.sources, self.channels, self.geometry = list(sources), [int(c) for c in channels], bool(geometry)
        self.statistics = list(statistics)
        self.dropout = nn.Dropout(dropout)
        self.norm = norm
        self.fc = nn.Linear(self.embedding_size(self.channels, geometry=self.geometry, statistics=len(self.statistics)),
                            num_classes)

    @staticmethod
    def embedding_size(channels: Sequence[int], *, geometry: bool, statistics: int = 1) -> int:
        """``2·S·ΣC_s`` (+3 with geometry) for ``S`` pooled statistics."""
        return 2 * int(statistics) * sum(int(c) for c in channels) + 3 * bool(geometry)

    @staticmethod
    def pool(feature: torch.Tensor, roi_masks: torch.Tensor, statistics: Sequence[str] = ("mean",)) -> torch.Tensor:
        """``(B, C, d, h, w)`` → ``[h_tumour, h_tumour − h_liver]`` per statistic ``(B, 2·S·C)`` (ROI masks
        area-resized)."""
        liver, tumour = roi_input_channels(area_resize(roi_masks.to(feature.dtype), feature.shape[-3:])).split(1, dim=1)
        empty = tumour.flatten(1).sum(1) <= 0
        tumour = torch.where(empty[:, None, None, None, None], liver, tumour)
        rois = torch.cat([tumour, liver], 1)
        parts = []
        for name in statistics:
            pooled = _POOLS[name](feature, rois)  # (B, 2, C)
            parts += [pooled[:, 0], pooled[:, 0] - pooled[:, 1]]
        return torch.cat(parts, 1)

    def forward(self, out, roi_masks: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if roi_masks is None:
            raise ValueError("the region head classifies from ROI-pooled features: pass `roi_masks` (B, R, D, H, W).")
        if roi_masks.ndim != 5 or roi_masks.shape[0] != out.fused.shape[0]:
            raise ValueError(f"`roi_masks` must be (B={out.fused.shape[0]}, R, D, H, W), got {tuple(roi_masks.shape)}.")
        parts = [self.pool(out.source(s), roi_masks, self.statistics) for s in self.sources]
        if self.geometry:
            parts.append(roi_geometry(roi_masks).to(out.fused.dtype))
        embedding = torch.cat(parts, 1)
        if self.norm is not None:
            embedding = self.norm(embedding)
        return embedding, self.fc(self.dropout(embedding))


@dataclass
class RegionHeadSpec(HeadSpec, tag="region"):
    """``{kind: region, ...}``: :class:`RegionHead`.

    Attributes:
        sources: maps pooled over the tumours and the liver, in embedding order: ``fused`` (the CBAM-gated
            fused map), ``input`` (the network's own input channels: mean CT attenuation and PET uptake in
            the ROIs) and ``level<i>`` (encoder level ``i``). Default ``[fused]``.
        geometry: also read the region graph's geometry (tumour count, burden, spread). Default False.
        dropout: before the linear layer, in [0, 1). Default 0.
        norm: :class:`~reactkd.models.head_spec.HeadNorm`. Default ``batch``: the embedding mixes scales
            two orders of magnitude apart (a z-scored wash-out contrast ~0.1, a log volume ratio −7…0), and
            unstandardised the linear layer barely moves the small-scale weights in a stage's steps
            (docs/results.md, "head feature standardisation"). ``none`` leaves the pooled features as they are.
        statistics: pooled per ROI and source, among :data:`~reactkd.models.head_spec.STATISTICS`: ``mean``
            (the level: wash-out, uptake ratio) and ``std`` (the heterogeneity: texture, a necrotic core).
            Default ``[mean]``: the paper's masked average pooling.
    """

    sources: list[str] = field(default_factory=lambda: ["fused"])
    geometry: bool = False
    dropout: float = 0.0
    norm: HeadNorm = HeadNorm.BATCH
    statistics: list[str] = field(default_factory=lambda: ["mean"])

    def __post_init__(self) -> None:
        self.norm = HeadNorm(self.norm)
        check_sources(self.sources)
        check_dropout(self.dropout)
        require(bool(self.statistics) and set(self.statistics) <= set(STATISTICS)
                and len(set(self.statistics)) == len(self.statistics), "statistics", self.statistics,
                f"distinct names among {', '.join(STATISTICS)} (e.g. [mean, std])")

    def build(self, channels: Mapping[str, int], num_classes: int) -> nn.Module:
        widths = [channels[s] for s in self.sources]
        size = RegionHead.embedding_size(widths, geometry=self.geometry, statistics=len(self.statistics))
        return RegionHead(self.sources, widths, num_classes, self.dropout, geometry=self.geometry,
                          norm=feature_norm(self.norm, size), statistics=self.statistics)
