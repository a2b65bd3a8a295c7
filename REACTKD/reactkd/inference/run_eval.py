"""Evaluate a trained run again: with a modality withheld, at a simulated dose level, or on another
manifest (external evaluation). Each fold's best student predicts; results go to ``RUN/eval/<tag>/``.

- ``withhold="pet"``: PET declared missing (the CT-only use case); ``"ct"``: CT declared missing.
- ``dose``: ``native``, ``mild``, ``severe``, a fraction, or ``mixed`` (a documented share of cases degraded,
  split between mild and severe, see :func:`reactkd.dose.assign_mixed_cohort`); the student's CT input is
  the dose-degraded CT, simulated on the CT as acquired (its declared or estimated fluence, before
  resampling to the model grid; :class:`reactkd.train.data.LowDose`). ``noise.csv`` beside the tables
  gives each case's liver noise std (HU, acquired grid) at its level, ``native`` included.
- ``manifest``: every case of another cohort is predicted by every fold's student; without it, each fold's
  student predicts its own held-out fold.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import torch

from reactkd.cohort import read_folds, read_manifest
from reactkd.config.run_dir import read_run_config
from reactkd.dose import assign_mixed_cohort, resolve_dose
from reactkd.evaluate.metrics import evaluate_folds
from reactkd.evaluate.predictions import read_run_predictions, write_fold_predictions
from reactkd.evaluate.tables import fold_table, summary_table
from reactkd.inference.device import evaluation_runtime
from reactkd.inference.load import load_student
from reactkd.preprocess import PreprocessConfig
from reactkd.preprocess.intensity import normalize_ct
from reactkd.train.data import LowDose, load_records, make_loader, run_caches
from reactkd.train.predict import predict_loader

__all__ = ["evaluate_run", "eval_tag", "read_noise"]


def eval_tag(manifest: str | None, dose: str | None, withhold: str | None) -> str:
    parts = [Path(manifest).stem if manifest else "cv", f"dose-{dose}" if dose else "native",
             f"no-{withhold}" if withhold else "all-inputs"]
    return "_".join(parts)


def evaluate_run(run: str | Path, manifest: str | None = None, dose: str | None = None,
                 withhold: str | None = None, *, device: str | None = None, precision: str | None = None) -> Path:
    """Predict with each fold's student under the given condition; returns the folder with the tables.

    The students run on the run's device and precision unless ``device`` / ``precision`` say otherwise
    (:func:`~reactkd.inference.device.evaluation_runtime`)."""
    run = Path(run)
    config = read_run_config(run)
    if withhold not in (None, "pet", "ct"):
        raise ValueError(f"`withhold` must be 'pet' or 'ct', got {withhold!r}.")
    if dose is not None and dose != "mixed":
        resolve_dose(dose)  # validates the level or fraction
    runtime = evaluation_runtime(config, device, precision)
    external = read_manifest(manifest) if manifest else None
    records = external or load_records(config, run)
    by_id = {r.case_id: r for r in records}
    folds = read_folds(run / "folds.json")
    out = run / "eval" / eval_tag(manifest, dose, withhold)
    pcfg = PreprocessConfig.from_dict(config.data.preprocess)
    cache, dose_dir = run_caches(config, run)
    levels = {}
    if dose == "mixed":
        levels = {c: lv.value for c, lv in assign_mixed_cohort(sorted(by_id), config.seed).items()}
    wanted = set(levels.values()) | ({dose} - {None, "mixed"})
    lowdose = {lv: LowDose(dose_dir, lv, config.seed, records) for lv in wanted}

    def degrade(item: dict) -> dict:
        level = levels.get(item["case_id"], dose) if dose else None
        if level:
            hu = lowdose[level](cache.get(by_id[item["case_id"]]))
            if resolve_dose(level) < 1.0:
                item["ct"] = torch.from_numpy(normalize_ct(hu, pcfg.hu_window)[None])
        return item

    for k, test_ids in enumerate(folds):
        ckpt = run / f"fold{k}" / "student" / "best.pt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"{ckpt} is missing: train the run first (reactkd train --out {run}).")
        student, _ = load_student(ckpt)
        cases = records if external else [by_id[c] for c in test_ids]
        loader = make_loader(cases, cache, None, 4, runtime, train=False, transform=degrade if dose else None)
        write_fold_predictions(predict_loader(student, loader, runtime, withhold), k,
                               out / f"fold{k}" / "predictions.csv")
    if dose:
        _write_noise(out / "noise.csv", lowdose, levels, dose)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_fold, summary = evaluate_folds(read_run_predictions(out))
    fold_table(per_fold, summary).write_markdown(out / "folds.md")
    table = summary_table({out.name: summary})
    table.to_csv(out / "summary.csv")
    table.write_markdown(out / "summary.md")
    return out


def _write_noise(path: Path, lowdose: dict, levels: dict, dose: str) -> None:
    """``case_id, level, liver_noise_hu, fluence_source`` for every case the students saw at ``dose``."""
    rows = []
    for level, ld in sorted(lowdose.items()):
        for case_id, noise in sorted(ld.noise_hu.items()):
            if levels.get(case_id, dose) == level:
                rows.append({"case_id": case_id, "level": level, "liver_noise_hu": round(noise, 3),
                             "fluence_source": ld.sources.get(case_id, "")})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["case_id", "level", "liver_noise_hu", "fluence_source"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_noise(folder: str | Path) -> tuple[float, float]:
    """Mean and std over cases of the liver noise (HU) in an evaluation folder's ``noise.csv`` (NaN if absent)."""
    path = Path(folder) / "noise.csv"
    if not path.is_file():
        return math.nan, math.nan
    with open(path, newline="", encoding="utf-8") as fh:
        values = [float(r["liver_noise_hu"]) for r in csv.DictReader(fh)]
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1))
    return mean, std
