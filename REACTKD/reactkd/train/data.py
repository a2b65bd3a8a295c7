"""The data side of a run: records, folds, inner validation split, datasets with low-dose CT, loaders."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from torch.utils.data import DataLoader, DistributedSampler

from reactkd.cohort import CaseDataset, CaseRecord, PreprocessCache, collate_cases, patient_folds, read_manifest
from reactkd.config.experiment import ExperimentConfig
from reactkd.dose import DoseCache, LowDoseSimulator
from reactkd.dose.noise_estimate import acquisition_of, measure_noise_std, soft_tissue_region
from reactkd.io.geometry import world_corners
from reactkd.phantom.cohort import generate_cohort
from reactkd.preprocess import ModelInput, PreprocessConfig
from reactkd.train.performance import worker_init
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
    size = tuple(config.data.phantom_size) if config.data.phantom_size else None
    manifest = generate_cohort(run_dir / "cohort", n_patients=config.data.phantom_patients,
                               seed=config.data.phantom_seed, size=size)
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
    """Dose-degraded HU on a case's model grid, simulated on the CT **as acquired** and then resampled.

    Scanner noise scales as pixel^-1.5, so the simulation runs on the CT's own pixels (only the slices the
    model grid reaches: slices are independent in the parallel-beam model) with the CT's acquisition: its
    sidecar's declared fluence and kernel, else the fluence estimated from the liver's noise
    (:func:`reactkd.dose.noise_estimate.acquisition_of`). Results are cached on disk (:class:`DoseCache`,
    keyed by the simulator and the input) and in RAM. :attr:`noise_hu` records each case's liver noise std
    at this level on the acquired grid, :attr:`sources` where its fluence came from.

    Args:
        cache_dir: the run's low-dose cache folder. level: dose level or fraction. seed: noise seed.
        records: the cases that may be asked for (their files are read on first use).
    """

    def __init__(self, cache_dir: Path, level: str, seed: int, records: Iterable[CaseRecord] = ()):
        self.cache_dir, self.level, self.seed = Path(cache_dir), level, seed
        self.records = {r.case_id: r for r in records}
        self._memory: dict[str, np.ndarray] = {}
        self.noise_hu: dict[str, float] = {}
        self.sources: dict[str, str] = {}

    def __call__(self, mi: ModelInput) -> np.ndarray:
        if mi.case_id not in self._memory:
            record = self.records.get(mi.case_id)
            if record is None:
                raise ValueError(f"no manifest record for case {mi.case_id!r}: the dose is simulated on the CT "
                                 "as acquired, so LowDose needs the case's records.")
            case = record.load()
            ct, (liver, tumor) = _slab(case.ct, mi.grid), (case.liver, case.tumor)
            hu = sitk.GetArrayFromImage(ct).astype(np.float32)
            spacing = tuple(reversed(ct.GetSpacing()))
            masks = [sitk.GetArrayFromImage(_slab_like(m, ct)) > 0 for m in (liver, tumor)]
            acquisition, self.sources[mi.case_id] = acquisition_of(record.ct, hu, spacing, *masks)
            cache = DoseCache(self.cache_dir, LowDoseSimulator.for_acquisition(acquisition))
            low = cache.get_or_simulate(mi.case_id, ct, self.level, self.seed)
            region = soft_tissue_region(hu, *masks)
            self.noise_hu[mi.case_id] = measure_noise_std(sitk.GetArrayFromImage(low), region, spacing)
            self._memory[mi.case_id] = mi.grid.sample(low, sitk.sitkLinear, -1000.0)
        return self._memory[mi.case_id]


def _slab(ct: sitk.Image, grid) -> sitk.Image:
    """The CT's whole slices (axis 2 of the index) that the model grid's world box reaches, plus one."""
    corners = world_corners(grid.reference())
    k = np.array([ct.TransformPhysicalPointToContinuousIndex(c.tolist())[2] for c in corners])
    lo = int(np.clip(np.floor(k.min()) - 1, 0, ct.GetSize()[2] - 1))
    hi = int(np.clip(np.ceil(k.max()) + 2, lo + 1, ct.GetSize()[2]))
    size = list(ct.GetSize())
    return sitk.RegionOfInterest(ct, [size[0], size[1], hi - lo], [0, 0, lo])


def _slab_like(mask: sitk.Image, slab: sitk.Image) -> sitk.Image:
    """``mask`` (on the full CT grid) cut to the slices of ``slab``."""
    lo = mask.TransformPhysicalPointToIndex(slab.GetOrigin())[2]
    return sitk.RegionOfInterest(mask, list(slab.GetSize()), [0, 0, lo])


def make_loader(records: list[CaseRecord], cache: PreprocessCache, lowdose: LowDose | None, batch_size: int,
                runtime: Runtime, *, train: bool, transform=None, num_workers: int = 0, seed: int = 0) -> DataLoader:
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


def loader_state(loader: DataLoader) -> dict:
    """The random state a loader consumes across epochs: its shuffle generator and, when the dataset's
    transform can save one (:class:`reactkd.train.augment.Augmentation`), the augmentation stream.
    Both are part of ``last.pt``: without them a resumed run shuffles and warps as in epoch 1 again.
    A loader that keeps its own (:class:`reactkd.train.unlabelled.WithUnlabelled`) gives its ``state_dict()``."""
    if hasattr(loader, "state_dict"):
        return loader.state_dict()
    state: dict = {}
    if loader.generator is not None:
        state["shuffle"] = loader.generator.get_state()
    transform = getattr(loader.dataset, "transform", None)
    if hasattr(transform, "state_dict"):
        state["augment"] = transform.state_dict()
    return state


def load_loader_state(loader: DataLoader, state: dict) -> None:
    """Restore :func:`loader_state`; a part the loader does not have is refused (another run setting)."""
    if hasattr(loader, "load_state_dict"):
        loader.load_state_dict(state)
        return
    transform = getattr(loader.dataset, "transform", None)
    if (("shuffle" in state) != (loader.generator is not None)
            or ("augment" in state) != hasattr(transform, "state_dict")):
        raise ValueError(f"the saved data-loader state has {sorted(state)}, this run's loader differs "
                         "(augmentation switched on or off since the run started?).")
    if "shuffle" in state:
        loader.generator.set_state(state["shuffle"])
    if "augment" in state:
        transform.load_state_dict(state["augment"])
