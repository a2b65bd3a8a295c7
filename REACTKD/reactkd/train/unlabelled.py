"""Graded batches with unlabelled ones beside them: how stage 1 sees ``data.unlabelled_manifest``.

Every batch of the graded loader gets the next batch of the unlabelled loader under ``unlabelled_*`` keys
(``unlabelled_ct``, ``unlabelled_ct_lowdose``, ``unlabelled_roi_masks``, ``unlabelled_roi_valid``), so the
training loop, the device transfer and the distributed wrapper see one flat dict as before. The graded
loader sets the epoch (its length, its shuffle); the unlabelled loader is iterated afresh each epoch and
restarted when it runs out, so an epoch's unlabelled batches are fixed by the state at the epoch's start,
which :meth:`WithUnlabelled.state_dict` saves (resume equals an uninterrupted run).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from torch.utils.data import DataLoader

from reactkd.cohort import CaseRecord, PreprocessCache, read_manifest
from reactkd.config.experiment import ExperimentConfig
from reactkd.train.augment import build_augmentation
from reactkd.train.data import LowDose, load_loader_state, loader_state, make_loader, run_caches
from reactkd.train.runtime import Runtime

__all__ = ["UNLABELLED_PREFIX", "UNLABELLED_KEYS", "UNLABELLED_SEED", "UnlabelledCases", "read_unlabelled",
           "unlabelled_loader", "WithUnlabelled", "unlabelled_part"]

UNLABELLED_PREFIX = "unlabelled_"
UNLABELLED_KEYS = ("ct", "ct_lowdose", "roi_masks", "roi_valid")
"""What stage 1 reads of an unlabelled case: its CT, the simulated low dose and the region graph's ROIs."""

UNLABELLED_SEED = 10_000
"""Added to the fold's seed for the unlabelled loader's shuffle and warps: streams of their own, so the graded
loader draws what it draws without unlabelled cases."""


@dataclass
class UnlabelledCases:
    """The run's unlabelled CT (``data.unlabelled_manifest``) with a preprocessing cache and a low-dose
    simulator of their own: their in-memory caches are keyed by case id, and an unlabelled cohort may reuse
    the graded one's ids (``P001_a`` in both) without ever being given the other case."""

    records: list[CaseRecord]
    cache: PreprocessCache
    lowdose: LowDose


def read_unlabelled(config: ExperimentConfig, run_dir: Path, graded: list[CaseRecord]) -> UnlabelledCases | None:
    """The cases of ``data.unlabelled_manifest`` (None when unset), checked before any training.

    Grades in that manifest are not used (a warning says so). A CT that is also a graded case's is refused:
    a test fold's CT would otherwise train the teacher.

    Raises:
        ManifestError: an unreadable manifest or row (:func:`reactkd.cohort.read_manifest`).
        ValueError: no case, or CTs shared with ``data.manifest``.
    """
    path = config.data.unlabelled_manifest
    if not path:
        return None
    records = read_manifest(path, require_grade=False)
    if not records:
        raise ValueError(f"`data.unlabelled_manifest` {path} has no case.")
    graded_cts = {Path(r.ct).resolve() for r in graded}
    shared = [r.case_id for r in records if Path(r.ct).resolve() in graded_cts]
    if shared:
        raise ValueError(f"`data.unlabelled_manifest`: {len(shared)} case(s) share their CT with data.manifest "
                         f"(first: {shared[0]}); a graded case, possibly of a test fold, must not also train as "
                         "unlabelled.")
    graded_rows = sum(r.grade is not None for r in records)
    if graded_rows:
        warnings.warn(f"`data.unlabelled_manifest`: {graded_rows} of {len(records)} cases have a grade; "
                      "their grades are not used.", stacklevel=2)
    cache, dose_dir = run_caches(config, run_dir)
    return UnlabelledCases(records, cache, LowDose(dose_dir, config.data.dose_level, config.seed, records))


def unlabelled_loader(cases: UnlabelledCases, batch_size: int, runtime: Runtime, seed: int, *, augment: bool,
                      num_workers: int = 0) -> DataLoader:
    """The unlabelled cases' training loader (shuffled, augmented as the graded cases are when ``augment``),
    seeded with ``seed`` + :data:`UNLABELLED_SEED`."""
    seed = seed + UNLABELLED_SEED
    transform = build_augmentation(seed=seed) if augment else None
    return make_loader(cases.records, cases.cache, cases.lowdose, batch_size, runtime, train=True,
                       transform=transform, num_workers=num_workers, seed=seed)


def unlabelled_part(batch: dict) -> dict | None:
    """The unlabelled cases of a joint batch under their plain keys (``ct``, …), or None without them."""
    if f"{UNLABELLED_PREFIX}ct" not in batch:
        return None
    return {k: batch[f"{UNLABELLED_PREFIX}{k}"] for k in UNLABELLED_KEYS}


class _Epochs:
    """The joint loader's ``sampler`` as the training loop uses it: ``set_epoch`` reaches both loaders'
    distributed samplers."""

    def __init__(self, *loaders: DataLoader) -> None:
        self.loaders = loaders

    def set_epoch(self, epoch: int) -> None:
        for loader in self.loaders:
            if hasattr(loader.sampler, "set_epoch"):
                loader.sampler.set_epoch(epoch)


class WithUnlabelled:
    """Iterate ``labelled``; each batch carries one batch of ``unlabelled`` (module doc).

    Args:
        labelled: the graded cases' training loader (:func:`~reactkd.train.data.make_loader`).
        unlabelled: the unlabelled cases' loader, with the low-dose CT (its dataset has a ``lowdose``).

    Raises:
        ValueError: an empty unlabelled loader.
    """

    def __init__(self, labelled: DataLoader, unlabelled: DataLoader) -> None:
        if len(unlabelled) == 0:
            raise ValueError("`data.unlabelled_manifest` gave no case to train on.")
        self.labelled, self.unlabelled = labelled, unlabelled
        self.sampler = _Epochs(labelled, unlabelled)
        self.dataset = labelled.dataset

    def __len__(self) -> int:
        return len(self.labelled)

    def __iter__(self) -> Iterator[dict]:
        extra = iter(self.unlabelled)
        for batch in self.labelled:
            try:
                more = next(extra)
            except StopIteration:  # fewer unlabelled batches than graded ones: go round again
                extra = iter(self.unlabelled)
                more = next(extra)
            yield {**batch, **{f"{UNLABELLED_PREFIX}{k}": more[k] for k in UNLABELLED_KEYS}}

    def state_dict(self) -> dict:
        """Both loaders' random state (:func:`~reactkd.train.data.loader_state`), part of ``last.pt``."""
        return {"labelled": loader_state(self.labelled), "unlabelled": loader_state(self.unlabelled)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; a state saved without unlabelled cases is refused by the caller's check."""
        if set(state) != {"labelled", "unlabelled"}:
            raise ValueError(f"the saved data-loader state has {sorted(state)}; this run trains with unlabelled "
                             "cases (data.unlabelled_manifest set since the run started?).")
        load_loader_state(self.labelled, state["labelled"])
        load_loader_state(self.unlabelled, state["unlabelled"])
