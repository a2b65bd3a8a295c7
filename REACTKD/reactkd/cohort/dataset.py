"""A torch ``Dataset`` over preprocessed cases and a collate function that pads region graphs.

Each item is a dict (the batch contract every model and distiller reads):

- ``ct`` ``(1, D, H, W)``, ``pet`` ``(P, D, H, W)``, ``pet_present`` ``(P,)`` bool
- ``ct_lowdose`` ``(1, D, H, W)`` when a low-dose function is configured (dose-aware teacher)
- ``roi_masks`` ``(R, D, H, W)`` float (node 0 = liver), ``label`` int64 class index (grade − 1, −1 if unknown)
- ``case_id``, ``patient_id`` strings

After :func:`collate_cases`: a leading batch dim, ``roi_masks`` zero-padded to the batch's largest R,
and ``roi_valid`` ``(B, R)`` bool marking real nodes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from reactkd.cohort.cache import PreprocessCache
from reactkd.cohort.manifest import CaseRecord
from reactkd.preprocess import ModelInput
from reactkd.preprocess.intensity import normalize_ct

__all__ = ["CaseDataset", "collate_cases", "item_from_input"]

LowDoseFn = Callable[[ModelInput], np.ndarray]
"""Maps a case to dose-degraded HU ``(D, H, W)`` on its model grid (e.g. from :mod:`reactkd.dose`)."""


def item_from_input(mi: ModelInput, lowdose: LowDoseFn | None = None) -> dict:
    item = {
        "ct": torch.from_numpy(mi.ct),
        "pet": torch.from_numpy(mi.pet),
        "pet_present": torch.from_numpy(mi.pet_present.astype(bool)),
        "roi_masks": torch.from_numpy(mi.roi_masks),
        "label": torch.tensor(mi.grade - 1 if mi.grade else -1, dtype=torch.int64),
        "case_id": mi.case_id,
        "patient_id": mi.patient_id,
    }
    if lowdose is not None:
        item["ct_lowdose"] = torch.from_numpy(normalize_ct(lowdose(mi), mi.config.hu_window)[None])
    return item


class CaseDataset(Dataset):
    """Cases of a manifest, preprocessed through ``cache``.

    Args:
        records: manifest rows (e.g. one fold's training cases).
        cache: where preprocessed cases come from.
        lowdose: optional dose-degradation function producing ``ct_lowdose``.
        transform: optional callable applied to each item dict (augmentation).
    """

    def __init__(self, records: list[CaseRecord], cache: PreprocessCache, lowdose: LowDoseFn | None = None,
                 transform: Callable[[dict], dict] | None = None):
        self.records = list(records)
        self.cache = cache
        self.lowdose = lowdose
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        item = item_from_input(self.cache.get(self.records[index]), self.lowdose)
        return self.transform(item) if self.transform is not None else item


def collate_cases(items: list[dict]) -> dict:
    """Stack items, padding ``roi_masks`` to the largest node count and adding ``roi_valid``."""
    if not items:
        raise ValueError("cannot collate an empty list of cases.")
    r_max = max(int(it["roi_masks"].shape[0]) for it in items)
    batch: dict = {}
    for key in items[0]:
        values = [it[key] for it in items]
        if key == "roi_masks":
            padded = values[0].new_zeros((len(values), r_max) + tuple(values[0].shape[1:]))
            for i, v in enumerate(values):
                padded[i, : v.shape[0]] = v
            batch[key] = padded
        elif isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        else:
            batch[key] = values
    batch["roi_valid"] = torch.tensor([[j < it["roi_masks"].shape[0] for j in range(r_max)] for it in items])
    return batch
