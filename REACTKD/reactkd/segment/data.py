"""Segmentation data: patient-level split, preprocessed volumes (npz cache), random training patches.

Training draws ``patches_per_case`` patches per case and epoch; a share ``foreground_share`` is centred
on a voxel of a foreground class chosen among the classes present with probabilities proportional to
``class_sampling`` (equal by default: class-balanced, as nnU-Net oversamples foreground), so that
tumours a few voxels wide appear in most batches. The rest
are centred anywhere (the network must also learn where there is no liver). Randomness comes from
NumPy's global generator, which the training loop seeds and checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from reactkd.cohort.cache import cache_key
from reactkd.cohort.manifest import CaseRecord
from reactkd.io.case import load_case
from reactkd.segment.preprocess import SegPreprocess, ct_to_input, labels_on_grid

__all__ = ["SegVolume", "load_volume", "patient_split", "SegPatches", "PAD_VALUE"]

PAD_VALUE = -1.0
"""Input value outside the scan: the bottom of the HU window (air), what the scan edge already shows."""


@dataclass
class SegVolume:
    """One case on the segmentation grid: ``image`` ``(D, H, W)`` float32, ``labels`` ``(D, H, W)`` uint8."""

    case_id: str
    image: np.ndarray
    labels: np.ndarray
    spacing_mm: float


def load_volume(record: CaseRecord, config: SegPreprocess, cache_dir: Path | None) -> SegVolume:
    """Preprocess a case once (CT + liver/tumour labels on the isotropic grid), cached as ``.npz``."""
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"{record.case_id}-seg-{cache_key(record, config)}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as d:
                return SegVolume(record.case_id, d["image"], d["labels"], config.spacing_mm)
    case = load_case(record.ct, record.liver_mask, record.tumor_mask, None, record.case_id, record.patient_id)
    image, ref = ct_to_input(case.ct, config)
    labels = labels_on_grid(case.liver, case.tumor, ref)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, image=image, labels=labels)
        os.replace(tmp, path)
    return SegVolume(record.case_id, image, labels, config.spacing_mm)


def patient_split(records: list[CaseRecord], val_share: float, test_share: float, seed: int):
    """``(train, val, test)`` records, grouped by patient (grades may be missing: nothing to stratify).

    Patients are ordered by a seeded hash of their id, so the split does not depend on row order.
    Validation and test each get at least one patient when their share is > 0.

    Raises:
        ValueError: fewer patients than the split needs.
    """
    patients = sorted({r.patient_id for r in records},
                      key=lambda p: hashlib.sha256(f"{seed}:{p}".encode()).hexdigest())
    n = len(patients)
    n_test = max(1, round(test_share * n)) if test_share > 0 else 0
    n_val = max(1, round(val_share * n))
    if n - n_test - n_val < 1:
        raise ValueError(f"{n} patient(s) cannot fill training, validation ({n_val}) and test ({n_test}) sets.")
    test_p, val_p = set(patients[:n_test]), set(patients[n_test:n_test + n_val])
    pick = lambda keep: [r for r in records if keep(r.patient_id)]  # noqa: E731
    return (pick(lambda p: p not in test_p and p not in val_p), pick(lambda p: p in val_p), pick(lambda p: p in test_p))


def write_split(split: dict[str, list[CaseRecord]], path: Path) -> None:
    path.write_text(json.dumps({k: [r.case_id for r in v] for k, v in split.items()}, indent=1))


class SegPatches(Dataset):
    """Random ``patch``³ training patches: items ``{"ct": (1, P, P, P) float32, "seg": (1, P, P, P) int64}``.

    Args:
        volumes: training cases.
        patch: patch side in voxels.
        per_case: patches per case and epoch (``len`` = cases × per_case).
        foreground_share: probability that a patch is centred on a foreground voxel.
        class_sampling: relative probability of each foreground class (liver, tumour) for those patches,
            among the classes present in the case. Default equal.
    """

    def __init__(self, volumes: list[SegVolume], patch: int, per_case: int = 4, foreground_share: float = 0.67,
                 class_sampling=(1.0, 1.0)):
        if not volumes:
            raise ValueError("no training volumes.")
        self.volumes, self.patch, self.per_case, self.fg = volumes, int(patch), int(per_case), float(foreground_share)
        self.class_sampling = [float(w) for w in class_sampling]
        if any(w < 0 for w in self.class_sampling) or sum(self.class_sampling) <= 0:
            raise ValueError(f"`class_sampling` must be non-negative weights, not all 0, got {class_sampling!r}.")
        # Flat indices of each foreground class per case (int64 flat index; a few MB for a cohort).
        self.class_voxels = [{c: np.flatnonzero(v.labels == c) for c in np.unique(v.labels) if c > 0} for v in volumes]

    def __len__(self) -> int:
        return len(self.volumes) * self.per_case

    def centre(self, index: int) -> np.ndarray:
        vol, classes = self.volumes[index], self.class_voxels[index]
        present = [c for c in classes if c <= len(self.class_sampling) and self.class_sampling[c - 1] > 0]
        if present and np.random.random() < self.fg:
            w = np.array([self.class_sampling[c - 1] for c in present])
            voxels = classes[present[np.random.choice(len(present), p=w / w.sum())]]
            return np.array(np.unravel_index(voxels[np.random.randint(len(voxels))], vol.labels.shape))
        return np.array([np.random.randint(s) for s in vol.labels.shape])

    def __getitem__(self, i: int) -> dict:
        k = i // self.per_case
        vol, p = self.volumes[k], self.patch
        lo = self.centre(k) - p // 2
        image = np.full((p, p, p), PAD_VALUE, np.float32)
        labels = np.zeros((p, p, p), np.uint8)
        src = tuple(slice(max(a, 0), min(a + p, s)) for a, s in zip(lo, vol.labels.shape))
        dst = tuple(slice(s.start - a, s.stop - a) for s, a in zip(src, lo))
        image[dst], labels[dst] = vol.image[src], vol.labels[src]
        return {"ct": torch.from_numpy(image)[None], "seg": torch.from_numpy(labels.astype(np.int64))[None]}
