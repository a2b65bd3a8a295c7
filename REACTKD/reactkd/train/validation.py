"""The validation metrics that select a classifier's best epoch (never the training loss)."""

from __future__ import annotations

import warnings
from typing import Callable, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from reactkd.evaluate.metrics import fold_metrics
from reactkd.train.predict import predict_loader
from reactkd.train.runtime import Runtime

__all__ = ["validation_metrics", "classification_validator"]


def validation_metrics(pred: dict) -> dict:
    """Macro metrics (:func:`fold_metrics`) plus ``loss`` (cross-entropy) of :func:`predict_loader` output."""
    logits = torch.from_numpy(pred["logits"])
    probs = torch.softmax(logits, 1).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small validation split may lack a grade: AUC over present grades
        m = fold_metrics(pred["label"] + 1, probs)
    m["loss"] = float(F.cross_entropy(logits, torch.from_numpy(pred["label"])))
    return m


def classification_validator(loader: DataLoader, runtime: Runtime,
                             withhold: Literal["pet", "ct"] | None = None) -> Callable[[nn.Module], dict]:
    """``network → validation metrics`` on ``loader`` (what :func:`~reactkd.train.loop.fit` calls each epoch).

    ``withhold``: a modality declared missing and blanked in every validation case
    (:func:`~reactkd.train.predict.withhold`), so that the epoch kept is the best one under the condition
    the network is deployed in (``"pet"`` for a CT-deployed student). Default None: the inputs as they are.
    """
    return lambda network: validation_metrics(predict_loader(network, loader, runtime, withhold))
