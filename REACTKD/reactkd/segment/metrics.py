"""Per-class Dice and HD95 (MONAI ``DiceMetric`` and ``HausdorffDistanceMetric``) of label volumes."""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from monai.metrics import DiceMetric, HausdorffDistanceMetric

from reactkd.segment.classes import SEG_CLASSES

__all__ = ["dice_per_class", "hd95_per_class"]


def _onehot(labels: np.ndarray, k: int) -> torch.Tensor:
    return F.one_hot(torch.from_numpy(labels.astype(np.int64)), k).permute(3, 0, 1, 2)[None].float()


def dice_per_class(pred: np.ndarray, truth: np.ndarray, classes=SEG_CLASSES) -> dict[str, float]:
    """``{"dice_<class>": value}`` for foreground classes; NaN where the class is absent from ``truth``
    (MONAI ``ignore_empty``: an absent class has no overlap to measure)."""
    k = len(classes)
    metric = DiceMetric(include_background=False, reduction="none", ignore_empty=True)
    values = metric(_onehot(pred, k), _onehot(truth, k))
    return {f"dice_{c}": float(v) for c, v in zip(classes[1:], values[0])}


def hd95_per_class(pred: np.ndarray, truth: np.ndarray, spacing_zyx, classes=SEG_CLASSES) -> dict[str, float]:
    """``{"hd95_<class>_mm": value}``: 95th-percentile symmetric surface distance in mm; NaN where the
    class is absent from the truth or from the prediction (no surface to measure)."""
    k = len(classes)
    metric = HausdorffDistanceMetric(include_background=False, percentile=95, reduction="none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MONAI warns for every empty class; NaN says it already
        values = metric(_onehot(pred, k), _onehot(truth, k), spacing=[float(s) for s in spacing_zyx])
    values = torch.nan_to_num(values.float(), nan=float("nan"), posinf=float("nan"))
    return {f"hd95_{c}_mm": float(v) for c, v in zip(classes[1:], values[0])}
