"""The grading network as one composition: input adapter → backbone → head."""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn as nn

from reactkd.models.heads import ModelFeatures

__all__ = ["GradingNet", "features_from_batch"]


class GradingNet(nn.Module):
    """``inputs`` (batch dict → tensors) → ``backbone`` (tensors → levels, fused) → ``head`` (→ embedding, logits).

    The tensor path (:meth:`forward`, :meth:`forward_features`) never sees a batch dict; the adapter
    (:mod:`reactkd.models.inputs`) is the one place that does.

    Args:
        inputs: the input adapter, an ``nn.Module`` ``batch → GradingInputs``.
        backbone: ``(x, modality_mask) → BackboneOutput``, exposing ``out_channels``, ``strides``, ``cbam``.
        head: ``(BackboneOutput, roi_masks) → (embedding, logits)``.
    """

    def __init__(self, inputs: nn.Module, backbone: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.inputs, self.backbone, self.head = inputs, backbone, head

    @property
    def cbam(self) -> nn.Module:
        return self.backbone.cbam

    @property
    def out_channels(self) -> list[int]:
        return self.backbone.out_channels

    @property
    def strides(self) -> list[int]:
        return self.backbone.strides

    @property
    def in_channels(self) -> int:
        return self.backbone.in_channels

    def forward_features(self, x: torch.Tensor, modality_mask: torch.Tensor | None = None,
                         roi_masks: torch.Tensor | None = None) -> ModelFeatures:
        """``x (B, C, D, H, W)`` [+ ``modality_mask (B, 2)``, ``roi_masks (B, R, D, H, W)``]
        → :class:`ModelFeatures`."""
        out = self.backbone(x, modality_mask)
        embedding, logits = self.head(out, roi_masks)
        return ModelFeatures(levels=out.levels, fused=out.fused, embedding=embedding, logits=logits)

    def forward(self, x: torch.Tensor, modality_mask: torch.Tensor | None = None,
                roi_masks: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, num_classes)``."""
        return self.forward_features(x, modality_mask, roi_masks).logits


def features_from_batch(net: GradingNet, batch: Mapping[str, Any]) -> ModelFeatures:
    """``net.forward_features(*net.inputs(batch))``: how trainers, distillers and predictors run a network."""
    return net.forward_features(*net.inputs(batch))
