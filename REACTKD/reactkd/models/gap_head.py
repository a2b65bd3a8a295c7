"""The paper's grading head: global average pooling of the fused map, dropout, a linear layer; and its spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn

from reactkd.models.head_spec import HeadSpec, check_dropout

__all__ = ["ClassificationHead", "GapHeadSpec"]


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

    def forward(self, out, roi_masks: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.classify(out.fused.flatten(2).mean(-1))


@dataclass
class GapHeadSpec(HeadSpec, tag="gap"):
    """``{kind: gap}``: :class:`ClassificationHead` over the CBAM-gated fused map (the paper's head).

    Attributes:
        dropout: before the linear layer, in [0, 1). Default 0.
    """

    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_dropout(self.dropout)

    def build(self, channels: Mapping[str, int], num_classes: int) -> nn.Module:
        return ClassificationHead(channels["fused"], num_classes, self.dropout)
