"""A graph-readout grading head: each region-graph node (the liver, every tumour) is embedded by a shared
MLP, the tumours are read out by gated attention pooling, and the grade is classified from that readout,
the tumour count and the liver node's embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Sequence

import torch
import torch.nn as nn

from reactkd.graph.pooling import area_resize, masked_average_pool
from reactkd.models.head_spec import HeadNorm, HeadSpec, check_dropout, check_sources, feature_norm
from reactkd.utils.typed import require

__all__ = ["GraphHead", "GraphHeadSpec", "GraphReadout", "node_geometry", "NODE_GEOMETRY"]

NODE_GEOMETRY = 6
"""Numbers per node from :func:`node_geometry`: log volume, centroid offset (3), nearest-tumour distance, is-liver."""


def node_geometry(roi_masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, R, D, H, W)`` ROI fractions → ``(geometry (B, R, 6), valid tumours (B, R) bool)``.

    Per node: ``log(volume / liver volume + 10⁻³)``; its centroid minus the liver's, in units of the liver's
    size (cube root of its volume, in voxels), 3 numbers; the distance to the nearest *other* tumour's
    centroid in the same unit (0 when there is none); and 1 for the liver node, else 0. The liver (node 0)
    has volume ratio 1 and offset 0 by construction. A tumour node is valid when its mask is not empty (an
    all-zero mask is padding); the validity of node 0 is reported as False (it is not a tumour).
    """
    if roi_masks.ndim != 5 or roi_masks.shape[1] < 1:
        raise ValueError(f"`roi_masks` must be (B, R>=1, D, H, W), got {tuple(roi_masks.shape)}.")
    m = roi_masks.float()
    b, r = m.shape[:2]
    mass = m.flatten(2).sum(2)  # (B, R)
    liver = mass[:, :1].clamp_min(1.0)
    valid = mass > 0
    valid[:, 0] = False
    grids = torch.meshgrid(*[torch.arange(n, device=m.device, dtype=m.dtype) for n in m.shape[2:]], indexing="ij")
    coords = torch.stack([g.flatten() for g in grids], 1)  # (V, 3)
    centroids = (m.flatten(2) @ coords) / mass.clamp_min(1e-6)[..., None]  # (B, R, 3)
    scale = liver.pow(1 / 3)[..., None]  # (B, 1, 1)
    offset = (centroids - centroids[:, :1]) / scale
    offset = torch.where((valid | _liver_flag(b, r, m.device))[..., None], offset, torch.zeros_like(offset))
    dist = torch.cdist(centroids, centroids) / scale  # (B, R, R)
    other = valid[:, None, :] & ~torch.eye(r, dtype=torch.bool, device=m.device)[None]
    nearest = torch.where(other, dist, torch.full_like(dist, float("inf"))).amin(2)
    nearest = torch.where(torch.isfinite(nearest) & valid, nearest, torch.zeros_like(nearest))
    log_volume = torch.where(valid, torch.log(mass / liver + 1e-3), torch.zeros_like(mass))
    is_liver = _liver_flag(b, r, m.device).to(m.dtype)
    geometry = torch.cat([log_volume[..., None], offset, nearest[..., None], is_liver[..., None]], 2)
    return geometry.to(roi_masks.dtype if roi_masks.is_floating_point() else torch.float32), valid


def _liver_flag(b: int, r: int, device) -> torch.Tensor:
    flag = torch.zeros(b, r, dtype=torch.bool, device=device)
    flag[:, 0] = True
    return flag


class GraphReadout(NamedTuple):
    """Attributes:
        embedding: ``(B, 2H + 1)`` = ``[attention-pooled tumours, liver node, log(1 + tumour count)]``.
        attention: ``(B, R)`` node weights, sum 1 per case; padding 0; all on the liver without a tumour.
        nodes: ``(B, R, H)`` node embeddings φ(x_r).
    """

    embedding: torch.Tensor
    attention: torch.Tensor
    nodes: torch.Tensor


class GraphHead(nn.Module):
    """``(BackboneOutput, roi_masks (B, R, D, H, W))`` → ``(embedding (B, 2H + 1), logits (B, K))``.

    Node features ``x_r``: for every source map ``s`` the node's masked average ``h_r`` (the ROI mask
    area-resized to the map) and its contrast to the liver ``h_r − h_liver``; with ``geometry`` the six
    numbers of :func:`node_geometry`. A shared MLP φ embeds each node; the valid tumour nodes are read out
    by gated attention pooling (Ilse et al., ICML 2018, "Attention-based deep multiple instance learning"):

    .. math:: a_r = \\mathrm{softmax}_r\\, w^\\top(\\tanh(V \\phi_r) \\odot \\sigma(U \\phi_r)), \\quad
              z = \\textstyle\\sum_r a_r \\phi_r

    over the valid tumours only, so tumour order and zero padding change nothing. The embedding is
    ``[z, φ(liver), log(1 + tumour count)]``: attention pooling is a weighted mean and hides multiplicity, so the count
    enters explicitly; with geometry each node also carries its size, position and distance to its nearest
    neighbour (spread). A case without a tumour has ``z = 0`` and all attention on the liver. The readout's
    ``a_r`` is the topology map (:meth:`node_attention`).

    Args:
        sources: names of the pooled maps (``fused``, ``input``, ``level<i>``), in feature order.
        channels: channel count of each source.
        num_classes: grades. Default 3.
        dropout: before the linear layer, in [0, 1). Default 0.
        geometry: add :func:`node_geometry` to the node features. Default False.
        hidden: width ``H`` of φ and of the attention. Default 32: the node features are a few dozen numbers.
        norm: applied to the node features ``x_r`` of the real nodes (the liver, the valid tumours) before φ,
            e.g. :class:`~reactkd.models.standardize.Standardize`. Default None.
    """

    def __init__(self, sources: Sequence[str], channels: Sequence[int], num_classes: int = 3, dropout: float = 0.0,
                 *, geometry: bool = False, hidden: int = 32, norm: nn.Module | None = None) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1), got {dropout!r}.")
        if hidden < 1:
            raise ValueError(f"`hidden` must be >= 1, got {hidden!r}.")
        self.sources, self.channels, self.geometry = list(sources), [int(c) for c in channels], bool(geometry)
        features = self.node_feature_size(self.channels, geometry=self.geometry)
        self.norm = norm
        self.phi = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.attention_v = nn.Linear(hidden, hidden)
        self.attention_u = nn.Linear(hidden, hidden)
        self.attention_w = nn.Linear(hidden, 1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * hidden + 1, num_classes)

    @staticmethod
    def node_feature_size(channels: Sequence[int], *, geometry: bool) -> int:
        """``2·ΣC_s`` (+6 with geometry) numbers per node."""
        return 2 * sum(int(c) for c in channels) + NODE_GEOMETRY * bool(geometry)

    def node_features(self, out, roi_masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x (B, R, F), valid tumours (B, R))``: per source ``[h_r, h_r − h_liver]``, then the geometry."""
        geometry, valid = node_geometry(roi_masks)
        parts = []
        for name in self.sources:
            feature = out.source(name)
            pooled = masked_average_pool(feature, area_resize(roi_masks.to(feature.dtype), feature.shape[-3:]))
            parts += [pooled, pooled - pooled[:, :1]]
        if self.geometry:
            parts.append(geometry.to(parts[0].dtype))
        return torch.cat(parts, 2), valid

    def readout(self, out, roi_masks: torch.Tensor | None) -> GraphReadout:
        """The node embeddings, their attention and the case embedding (see :class:`GraphReadout`)."""
        if roi_masks is None:
            raise ValueError("the graph head reads the region graph's nodes: pass `roi_masks` (B, R, D, H, W).")
        if roi_masks.ndim != 5 or roi_masks.shape[0] != out.fused.shape[0]:
            raise ValueError(f"`roi_masks` must be (B={out.fused.shape[0]}, R, D, H, W), got {tuple(roi_masks.shape)}.")
        x, valid = self.node_features(out, roi_masks)
        if self.norm is not None:
            x = self.norm(x, valid | _liver_flag(*valid.shape, valid.device))
        nodes = self.phi(x)  # (B, R, H)
        score = self.attention_w(torch.tanh(self.attention_v(nodes)) * torch.sigmoid(self.attention_u(nodes)))[..., 0]
        any_tumour = valid.any(1, keepdim=True)  # (B, 1)
        keep = valid | (~any_tumour & _liver_flag(*valid.shape, valid.device))
        attention = torch.softmax(score.masked_fill(~keep, float("-inf")), 1)  # (B, R)
        pooled = (attention.masked_fill(~valid, 0.0)[..., None] * nodes).sum(1)  # 0 without a tumour
        count = torch.log1p(valid.sum(1, keepdim=True).to(nodes.dtype))
        embedding = torch.cat([pooled, nodes[:, 0], count], 1)
        return GraphReadout(embedding, attention, nodes)

    def node_attention(self, out, roi_masks: torch.Tensor) -> torch.Tensor:
        """``(B, R)`` readout attention per node (sums to 1; the topology map)."""
        return self.readout(out, roi_masks).attention

    def forward(self, out, roi_masks: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.readout(out, roi_masks).embedding
        return embedding, self.fc(self.dropout(embedding))


@dataclass
class GraphHeadSpec(HeadSpec, tag="graph"):
    """``{kind: graph, ...}``: :class:`GraphHead`.

    Attributes:
        sources: maps pooled per node (``fused``, ``input``, ``level<i>``), in feature order. Default ``[fused]``.
        geometry: give every node its geometry (volume, position relative to the liver, distance to the
            nearest other tumour). Default False.
        dropout: before the linear layer, in [0, 1). Default 0.
        hidden: width of the node MLP and the attention. Default 32 (the node features are a few dozen numbers).
        norm: :class:`~reactkd.models.head_spec.HeadNorm` of the node features. Default ``batch``, for the
            reason a region head standardises (the features mix scales two orders of magnitude apart).
    """

    sources: list[str] = field(default_factory=lambda: ["fused"])
    geometry: bool = False
    dropout: float = 0.0
    hidden: int = 32
    norm: HeadNorm = HeadNorm.BATCH

    def __post_init__(self) -> None:
        self.norm = HeadNorm(self.norm)
        check_sources(self.sources)
        check_dropout(self.dropout)
        require(self.hidden >= 1, "hidden", self.hidden, ">= 1")

    def build(self, channels: Mapping[str, int], num_classes: int) -> nn.Module:
        widths = [channels[s] for s in self.sources]
        size = GraphHead.node_feature_size(widths, geometry=self.geometry)
        return GraphHead(self.sources, widths, num_classes, self.dropout, geometry=self.geometry, hidden=self.hidden,
                         norm=feature_norm(self.norm, size))
