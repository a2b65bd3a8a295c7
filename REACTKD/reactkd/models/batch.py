"""One way for trainers, distillers and predictors to run a model on a data-layer batch."""

from __future__ import annotations

from typing import Any, Mapping

import torch.nn as nn

from .heads import ModelFeatures

__all__ = ["features_from_batch"]


def features_from_batch(model: nn.Module, batch: Mapping[str, Any]) -> ModelFeatures:
    """The model's own ``features_from_batch`` (REACTKD teacher and student build their inputs, apply
    modality dropout in training and pass ROI masks to a region head), else ``forward_features(batch["ct"])``."""
    if hasattr(model, "features_from_batch"):
        return model.features_from_batch(batch)
    return model.forward_features(batch["ct"])
