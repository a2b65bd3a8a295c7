"""A region-aware grading head: classify from the fused map pooled over the tumours and over the liver."""

from __future__ import annotations

import enum

import torch
import torch.nn as nn

from reactkd.graph.pooling import area_resize, masked_average_pool
from reactkd.models.heads import ClassificationHead
from reactkd.utils.enums import parse_enum

__all__ = ["HeadKind", "RegionHead", "build_head", "roi_input_channels"]


def roi_input_channels(roi_masks: torch.Tensor) -> torch.Tensor:
    """``(B, R, D, H, W)`` ROI fractions → ``(B, 2, D, H, W)`` input channels ``[liver, all tumours]``
    (the paper's intensity-masked representation, given to the network as masks)."""
    if roi_masks.ndim != 5:
        raise ValueError(f"`roi_masks` must be (B, R, D, H, W), got {tuple(roi_masks.shape)}.")
    liver = roi_masks[:, :1]
    tumour = roi_masks[:, 1:].sum(1, keepdim=True).clamp(max=1.0) if roi_masks.shape[1] > 1 else torch.zeros_like(liver)
    return torch.cat([liver, tumour], 1)


class HeadKind(str, enum.Enum):
    """``gap``: global average pooling of the fused map; ``region``: :class:`RegionHead` (needs ROI masks)."""

    GAP = "gap"
    REGION = "region"


class RegionHead(ClassificationHead):
    """``(fused (B, C, d, h, w), roi_masks (B, R, D, H, W))`` → ``(embedding (B, 2C), logits (B, K))``.

    The ROI masks (node 0 = liver, 1.. = tumours; zero padding allowed) are brought to the fused map's
    resolution by area weighting; the embedding is ``[h_tumour, h_tumour − h_liver]`` where ``h`` is the
    masked average of the fused map over all tumours together and over the liver. A case without a tumour
    pools the liver in both places (its contrast term is 0). Grade is a property of the tumour relative to
    its liver background (FDG and acetate uptake ratios, wash-out, texture), which a global average over
    the whole grid dilutes; on the embedded cohort a global-average head memorised the training folds
    without generalising; the region head did better (figures in ``configs/demo-cpu.yaml``).

    Args:
        in_channels: ``C`` of the fused map.
        num_classes: grades. Default 3.
        dropout: before the linear layer, in [0, 1). Default 0.
    """

    def __init__(self, in_channels: int, num_classes: int = 3, dropout: float = 0.0) -> None:
        super().__init__(2 * in_channels, num_classes, dropout)  # the embedding is [tumour, contrast]

    def forward(self, fused: torch.Tensor, roi_masks: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if roi_masks is None:
            raise ValueError("the region head classifies from ROI-pooled features: pass `roi_masks` (B, R, D, H, W).")
        if roi_masks.ndim != 5 or roi_masks.shape[0] != fused.shape[0]:
            raise ValueError(f"`roi_masks` must be (B={fused.shape[0]}, R, D, H, W), got {tuple(roi_masks.shape)}.")
        liver, tumour = roi_input_channels(area_resize(roi_masks.to(fused.dtype), fused.shape[-3:])).split(1, dim=1)
        empty = tumour.flatten(1).sum(1) <= 0
        tumour = torch.where(empty[:, None, None, None, None], liver, tumour)
        pooled = masked_average_pool(fused, torch.cat([tumour, liver], 1))  # (B, 2, C)
        embedding = torch.cat([pooled[:, 0], pooled[:, 0] - pooled[:, 1]], 1)
        return embedding, self.fc(self.dropout(embedding))


def build_head(kind: HeadKind | str, in_channels: int, num_classes: int, dropout: float) -> nn.Module:
    kind = parse_enum(HeadKind, kind, "head")
    if kind is HeadKind.REGION:
        return RegionHead(in_channels, num_classes, dropout)
    return ClassificationHead(in_channels, num_classes, dropout)
