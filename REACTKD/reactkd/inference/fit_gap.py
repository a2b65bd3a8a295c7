"""How much better each fold's models grade the patients they trained on than the held-out ones.

A teacher far better on its own training patients than held out has memorised them: on the cases the
student learns from, its soft labels then mostly repeat the labels, and distillation has little to pass on.
Each fold teacher and fold student predicts its fold's training cases (every case outside the fold's test
set, the inner validation split included) with the inputs of its held-out file:

    RUN/fold{k}/teacher_train_predictions.csv   as teacher_predictions.csv (the teacher's usual inputs)
    RUN/fold{k}/train_predictions.csv           as predictions.csv (the student, PET where a case has it)

Same columns as the held-out files (:mod:`reactkd.evaluate.predictions`). :func:`fit_gap_table` sets the
macro one-vs-rest AUC of each against the held-out one, per fold. The teachers of ``compare`` / ``ablate``
rows are read from the experiment's shared teacher store (:func:`fold_checkpoint`).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from reactkd.cohort import read_folds
from reactkd.config import ExperimentConfig
from reactkd.config.identity import teacher_key
from reactkd.config.run_dir import read_run_config
from reactkd.evaluate.metrics import aggregate_folds, ovr_auc
from reactkd.evaluate.predictions import read_predictions, write_fold_predictions
from reactkd.evaluate.tables import Table, format_mean_std
from reactkd.inference.device import evaluation_runtime
from reactkd.inference.load import load_student
from reactkd.models import Teacher, teacher_spec
from reactkd.train.checkpoint import load_checkpoint, require_metadata
from reactkd.train.data import LowDose, load_records, make_loader, run_caches
from reactkd.train.predict import predict_loader

__all__ = ["fit_gap_predictions", "fit_gap_table", "fold_checkpoint", "FIT_GAP_COLUMNS", "FILES"]

FILES = {"teacher": ("teacher_predictions.csv", "teacher_train_predictions.csv"),
         "student": ("predictions.csv", "train_predictions.csv")}
"""Per model: its held-out prediction file and its training-set one, in ``RUN/fold{k}/``."""

FIT_GAP_COLUMNS = ("Fold", "Teacher training-set AUC", "Teacher held-out AUC", "Student training-set AUC",
                   "Student held-out AUC", "Training cases", "Held-out cases")


@dataclass(frozen=True)
class _Job:
    """One training-set prediction file to write: fold ``k``'s ``model`` from ``checkpoint`` into ``target``."""

    k: int
    model: str
    checkpoint: Path
    target: Path


def _up_to_date(target: Path, checkpoint: Path) -> bool:
    """Written, and not older than the weights that made it (a retrained fold predicts again)."""
    return target.is_file() and (not checkpoint.is_file() or target.stat().st_mtime >= checkpoint.stat().st_mtime)


def fold_checkpoint(run: Path, config: ExperimentConfig, k: int, model: str) -> Path:
    """Fold ``k``'s ``model`` (``teacher`` or ``student``) weights: ``RUN/fold{k}/<model>/best.pt``, or for a
    teacher of a ``compare`` / ``ablate`` row (``DIR/runs/seed{s}/<row>``) the shared one its stage-1
    settings name, ``DIR/teachers/<teacher_key>/fold{k}/teacher/best.pt``; the run's own path when neither
    is there."""
    own = run / f"fold{k}" / model / "best.pt"
    parents = run.resolve().parents
    if model != "teacher" or own.is_file() or len(parents) < 3:
        return own
    shared = parents[2] / "teachers" / teacher_key(config) / f"fold{k}" / "teacher" / "best.pt"
    return shared if shared.is_file() else own


def _jobs(run: Path, config: ExperimentConfig, n_folds: int, force: bool) -> list[_Job]:
    jobs = []
    for k in range(n_folds):
        for model, (_, train_file) in FILES.items():
            job = _Job(k, model, fold_checkpoint(run, config, k, model), run / f"fold{k}" / train_file)
            if force or not _up_to_date(job.target, job.checkpoint):
                jobs.append(job)
    return jobs


def _load_teacher(path: Path) -> Teacher:
    """A fold teacher in eval mode, built from its checkpoint's own metadata (weights only, read on the CPU)."""
    state, meta = load_checkpoint(path, map_location="cpu")
    require_metadata(meta, ("kind", "model_kwargs"), path)
    if meta["kind"] != "teacher":
        raise ValueError(f"{path} holds a {meta['kind']!r} checkpoint, not a teacher.")
    teacher = Teacher(teacher_spec(meta["model_kwargs"], "model_kwargs"))
    teacher.load_state_dict(state["model"])
    return teacher.eval()


def fit_gap_predictions(run: str | os.PathLike, *, force: bool = False, log=print, device: str | None = None,
                        precision: str | None = None) -> list[Path]:
    """Write each fold teacher's and fold student's predictions on the fold's training cases; returns the files
    written. Files already there (and not older than their checkpoint) are kept, so re-running resumes;
    ``force`` predicts again. The models run on the run's device and precision unless ``device`` /
    ``precision`` say otherwise (:func:`~reactkd.inference.device.evaluation_runtime`), on the inputs of
    their held-out predictions: the run's low-dose CT for the dose-aware branch, the PET where a case has it.

    Raises:
        FileNotFoundError: not a run folder, or a checkpoint a missing file needs (named), before any work.
    """
    run = Path(run)
    config = read_run_config(run)
    folds = read_folds(run / "folds.json")
    jobs = _jobs(run, config, len(folds), force)
    missing = [str(j.checkpoint) for j in jobs if not j.checkpoint.is_file()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} missing: train the run first (reactkd train --out {run}).")
    if not jobs:
        return []
    runtime = evaluation_runtime(config, device, precision)
    records = load_records(config, run)
    cache, dose_dir = run_caches(config, run)
    lowdose = LowDose(dose_dir, config.data.dose_level, config.seed, records)  # as the held-out files were made
    written = []
    for job in jobs:
        test = set(folds[job.k])
        train = [r for r in records if r.case_id not in test]
        model = _load_teacher(job.checkpoint) if job.model == "teacher" else load_student(job.checkpoint)[0]
        loader = make_loader(train, cache, lowdose, config.stage2.batch_size, runtime, train=False)
        written.append(write_fold_predictions(predict_loader(model, loader, runtime), job.k, job.target))
        log(f"fold {job.k}: {job.model} predicted its {len(train)} training case(s) → {job.target.name}")
    return written


def _fold_row(fold_dir: Path) -> dict[str, float]:
    tables = {f"{model} {part}": read_predictions(fold_dir / name)
              for model, names in FILES.items() for part, name in zip(("held-out", "training-set"), names)}
    row = {key: ovr_auc(t.grade, t.probs) for key, t in tables.items()}
    row["training cases"] = float(len(tables["student training-set"]))
    row["held-out cases"] = float(len(tables["student held-out"]))
    return row


def fit_gap_table(run: str | os.PathLike, digits: int = 3) -> Table:
    """One row per fold and a last ``mean ± std`` row (sample std over folds) with the columns
    :data:`FIT_GAP_COLUMNS`: macro one-vs-rest AUC (:func:`~reactkd.evaluate.metrics.ovr_auc`; a grade missing
    from a fold is left out of its mean) of each fold teacher and student on its training cases and held out,
    and how many cases each side has. Reads the files :func:`fit_gap_predictions` writes.

    Raises:
        FileNotFoundError: a fold lacks one of its four prediction files (named).
    """
    run = Path(run)
    keys = ("teacher training-set", "teacher held-out", "student training-set", "student held-out")
    rows, values = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small fold may miss a grade: its AUC averages the grades present
        for k in range(len(read_folds(run / "folds.json"))):
            v = _fold_row(run / f"fold{k}")
            values.append(v)
            rows.append((f"fold {k}", *(format_mean_std(v[key], digits=digits) for key in keys),
                         str(int(v["training cases"])), str(int(v["held-out cases"]))))
    summary = aggregate_folds(values)
    rows.append(("mean ± std", *(format_mean_std(*summary[key][:2], digits=digits) for key in keys),
                 *(format_mean_std(*summary[key][:2], digits=1) for key in ("training cases", "held-out cases"))))
    return Table(FIT_GAP_COLUMNS, tuple(rows))
