"""The data side of a run: records, folds, inner validation split, datasets with low-dose CT, loaders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from torch.utils.data import DataLoader, DistributedSampler

from reactkd.cohort import CaseDataset, CaseRecord, PreprocessCache, collate_cases, patient_folds, read_manifest
from reactkd.config.schema import ExperimentConfig
from reactkd.preprocess import ModelInput
from reactkd.train.performance import worker_init
from reactkd.train.runtime import Runtime

__all__ = ["load_records", "inner_split", "LowDose", "make_loader", "run_caches", "VALIDATION_SHARE"]

VALIDATION_SHARE = 5
"""One fifth of each fold's training patients (grade-stratified) select the best epoch; the test fold
is never looked at before the final prediction."""


def load_records(config: ExperimentConfig, run_dir: Path) -> list[CaseRecord]:
    """The manifest's cases, or the embedded phantom cohort generated into ``run_dir/cohort``."""
    if config.data.manifest:
        return read_manifest(config.data.manifest)
    from reactkd.cohort.phantom import generate_cohort

    manifest = generate_cohort(run_dir / "cohort", n_patients=config.data.phantom_patients, seed=config.data.phantom_seed)
    return read_manifest(manifest)


def run_caches(config: ExperimentConfig, run_dir: Path) -> tuple[PreprocessCache, Path]:
    """The run's preprocessing cache and low-dose cache folder (``data.cache_dir``, else inside the run)."""
    from reactkd.preprocess import PreprocessConfig

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
        from reactkd.dose import DoseCache

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
    """A loader of :class:`CaseDataset` items, collated by :func:`collate_cases`.

    With ``num_workers`` > 0 the cases (and their low-dose CT) are read into the caches first, in this
    process, so the forked workers share them instead of each reading every case again; the workers stay
    alive between epochs (their caches with them) and run one thread each (:func:`worker_init`), so they
    overlap augmentation with the model's compute without taking the model's cores. On the 2-core
    machine of ``docs/results.md`` a worker did not pay (figures there), hence ``num_workers: 0`` by default.
    """
    dataset = CaseDataset(records, cache, lowdose, transform)
    sampler = None
    if train and runtime.distributed:
        sampler = DistributedSampler(dataset, runtime.world_size, runtime.rank, shuffle=True, seed=seed)
    if num_workers > 0:
        for record in records:
            mi = cache.get(record)
            if lowdose is not None:
                lowdose(mi)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=train and sampler is None, sampler=sampler,
                      collate_fn=collate_cases, num_workers=num_workers, drop_last=False, generator=generator,
                      worker_init_fn=worker_init if num_workers > 0 else None, persistent_workers=num_workers > 0,
                      pin_memory=runtime.device.type == "cuda")
