"""Pieces shared by teacher and student: projection to the common width, the grading head, the feature record."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

__all__ = ["ModelFeatures", "FeatureProjection", "ClassificationHead"]


@dataclass
class ModelFeatures:
    """Everything a distiller may read from one forward pass (returned by ``forward_features``).

    Attributes:
        levels: multi-scale encoder maps, shallow to deep, each ``(B, C_i, d_i, h_i, w_i)``.
        fused: the map after projection to the common width and the shared CBAM3D, ``(B, W, d, h, w)``.
        embedding: what the head classifies: globally average-pooled ``fused`` ``(B, W)``, or for the region
            head ``[tumour, tumour − liver]`` pooled ``fused`` ``(B, 2W)``.
        logits: class scores ``(B, num_classes)`` (grades 1/2/3 are indices 0/1/2).
    """

    levels: list[torch.Tensor]
    fused: torch.Tensor
    embedding: torch.Tensor
    logits: torch.Tensor


class FeatureProjection(nn.Sequential):
    """1×1×1 convolution + ReLU taking ``(B, in_channels, ...)`` to ``(B, out_channels, ...)``.

    No normalisation layer: the teacher's deepest Swin map is 1³ for a 32³ input, where instance
    norm would zero it.

    Raises:
        ValueError: if a channel count is < 1.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"channel counts must be >= 1, got in={in_channels!r}, out={out_channels!r}.")
        super().__init__(nn.Conv3d(in_channels, out_channels, kernel_size=1), nn.ReLU(inplace=True))


class ClassificationHead(nn.Module):
    """Global average pooling, dropout and a linear layer: ``(B, C, d, h, w)`` → ``(embedding, logits)``.

    Args:
        in_channels: channels ``C`` of the fused map.
        num_classes: number of grades. Default 3 (Edmondson–Steiner 1–3).
        dropout: dropout probability before the linear layer, in [0, 1). Default 0.

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

    def forward(self, fused: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = fused.flatten(2).mean(-1)
        return embedding, self.fc(self.dropout(embedding))
