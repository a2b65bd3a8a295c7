"""The data side of a run: records, folds, inner validation split, datasets with low-dose CT, loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from torch.utils.data import DataLoader, DistributedSampler

from reactkd.cohort import CaseDataset, CaseRecord, PreprocessCache, collate_cases, patient_folds, read_manifest
from reactkd.cohort.phantom import generate_cohort
from reactkd.config.experiment import ExperimentConfig
from reactkd.dose import DoseCache
from reactkd.preprocess import ModelInput, PreprocessConfig
from reactkd.train.runtime import Runtime

__all__ = ["load_records", "inner_split", "LowDose", "make_loader", "run_caches", "loader_state",
           "load_loader_state", "VALIDATION_SHARE"]

VALIDATION_SHARE = 5
"""One fifth of each fold's training patients (grade-stratified) select the best epoch; the test fold
is never looked at before the final prediction."""


def load_records(config: ExperimentConfig, run_dir: Path) -> list[CaseRecord]:
    """The manifest's cases, or the embedded phantom cohort generated into ``run_dir/cohort``."""
    if config.data.manifest:
        return read_manifest(config.data.manifest)
    manifest = generate_cohort(run_dir / "cohort", n_patients=config.data.phantom_patients, seed=config.data.phantom_seed)
    return read_manifest(manifest)


def run_caches(config: ExperimentConfig, run_dir: Path) -> tuple[PreprocessCache, Path]:
    """The run's preprocessing cache and low-dose cache folder (``data.cache_dir``, else inside the run)."""
    root = Path(config.data.cache_dir) if config.data.cache_dir else Path(run_dir)
    return PreprocessCache(root / "cache", PreprocessConfig.from_dict(config.data.preprocess)), root / "dose-cache"


def inner_split(records: list[CaseRecord], seed: int) -> tuple[list[CaseRecord], list[CaseRecord]]:
    """(train, validation) by patient, stratified by grade; validation ≈ 1/:data:`VALIDATION_SHARE`."""
    n_patients = len({r.patient_id for r in records})
    if n_patients < 4:
        raise ValueError(f"a training fold needs at least 4 patients for an inner validation split, got {n_patients}.")
    folds = patient_folds(records, min(VALIDATION_SHARE, n_patients), seed)
    val_ids = set(folds[0])
    return [r for r in records if r.case_id not in val_ids], [r for r in records if r.case_id in val_ids]


class LowDose:
    """Dose-degraded HU on a case's model grid (sinogram-domain simulation, cached on disk and in RAM)."""

    def __init__(self, cache_dir: Path, level: str, seed: int):
        self.cache = DoseCache(cache_dir)
        self.level, self.seed = level, seed
        self._memory: dict[str, np.ndarray] = {}

    def __call__(self, mi: ModelInput) -> np.ndarray:
        if mi.case_id not in self._memory:
            image = mi.grid.to_image(mi.ct_hu[0])
            low = self.cache.get_or_simulate(mi.case_id, image, self.level, self.seed)
            self._memory[mi.case_id] = sitk.GetArrayFromImage(low).astype(np.float32)
        return self._memory[mi.case_id]


def make_loader(records: list[CaseRecord], cache: PreprocessCache, lowdose: LowDose | None, batch_size: int,
                runtime: Runtime, train: bool, transform=None, num_workers: int = 0, seed: int = 0) -> DataLoader:
    dataset = CaseDataset(records, cache, lowdose, transform)
    sampler = None
    if train and runtime.distributed:
        sampler = DistributedSampler(dataset, runtime.world_size, runtime.rank, shuffle=True, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=train and sampler is None, sampler=sampler,
                      collate_fn=collate_cases, num_workers=num_workers, drop_last=False, generator=generator)


def loader_state(loader: DataLoader) -> dict:
    """The random state a loader consumes across epochs: its shuffle generator and, when the dataset's
    transform can save one (:class:`reactkd.train.augment.Augmentation`), the augmentation stream.
    Both are part of ``last.pt``: without them a resumed run shuffles and warps as in epoch 1 again."""
    state: dict = {}
    if loader.generator is not None:
        state["shuffle"] = loader.generator.get_state()
    transform = getattr(loader.dataset, "transform", None)
    if hasattr(transform, "state_dict"):
        state["augment"] = transform.state_dict()
    return state


def load_loader_state(loader: DataLoader, state: dict) -> None:
    """Restore :func:`loader_state`; a part the loader does not have is refused (another run setting)."""
    transform = getattr(loader.dataset, "transform", None)
    if ("shuffle" in state) != (loader.generator is not None) or ("augment" in state) != hasattr(transform, "state_dict"):
        raise ValueError(f"the saved data-loader state has {sorted(state)}, this run's loader differs "
                         "(augmentation switched on or off since the run started?).")
    if "shuffle" in state:
        loader.generator.set_state(state["shuffle"])
    if "augment" in state:
        transform.load_state_dict(state["augment"])
