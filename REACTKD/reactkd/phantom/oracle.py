"""The trait oracle: what the phantom's images hold at a run's cohort size, as reference rows for the tables.

The embedded phantom draws every patient's grade-linked traits (tumour count, dispersed satellites, size,
wash-out, texture, necrosis; FDG and acetate tumour-to-liver ratios) and records them per case in its
``cohort.json``. Per fold of a run, a logistic regression on standardised traits is fitted on that fold's
training patients (every patient outside the held-out fold: the networks' training and validation split
together) and scored on the same held-out patients as the networks, with the same macro metrics
(:func:`~reactkd.evaluate.metrics.fold_metrics`). A network reads the traits from pixels and the oracle is
handed them, so at that cohort size the oracle's AUC is about the best a classifier of those cues can reach:
the distance of a network's row to the matching oracle row is what it failed to extract.

Rows: ``trait oracle (CT)`` (the CT-visible traits), ``trait oracle (PET)`` (the two tracer ratios),
``trait oracle (all)``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reactkd import GRADES
from reactkd.cohort import read_folds
from reactkd.evaluate.metrics import MeanStd, aggregate_folds, fold_metrics
from reactkd.phantom.cohort import GENERATOR

__all__ = ["CT_TRAITS", "PET_TRAITS", "ORACLE_ROWS", "phantom_truth", "run_truth", "trait_features",
           "oracle_fold_probabilities", "trait_oracle", "oracle_rows"]

CT_TRAITS = ("n_tumours", "dispersed_satellites", "log_tumour_ml", "log_largest_ml", "washout_hu", "texture_hu",
             "necrosis")
"""Traits a CT shows: count, dispersed satellites, total and largest tumour volume (log(1 + ml)), arterial
wash-out and texture (HU), necrotic fraction."""

PET_TRAITS = ("fdg_tlr", "acetate_tlr")
"""Traits only the PET shows: FDG and ¹¹C-acetate tumour-to-liver uptake ratios."""

ORACLE_ROWS: dict[str, tuple[str, ...]] = {
    "trait oracle (CT)": CT_TRAITS,
    "trait oracle (PET)": PET_TRAITS,
    "trait oracle (all)": CT_TRAITS + PET_TRAITS,
}
"""Row name → the traits its regression reads."""

def phantom_truth(cohort_dir: str | Path) -> dict[str, dict] | None:
    """``case_id → per-case truth`` from the phantom's ``cohort.json`` in ``cohort_dir``; None when the folder
    holds no phantom cohort (a real manifest has no hidden traits)."""
    path = Path(cohort_dir) / "cohort.json"
    if not path.is_file():
        return None
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("generator") != GENERATOR or not isinstance(meta.get("cases"), list):
        return None
    return {str(c["case_id"]): c for c in meta["cases"]}


def run_truth(run_dir: str | Path) -> dict[str, dict] | None:
    """The per-case truth of the cohort a run folder was trained on (its ``data.manifest``'s folder, or the
    embedded cohort inside the run), or None when that cohort is not the phantom."""
    run_dir = Path(run_dir)
    saved = run_dir / "config.yaml"
    data = (yaml.safe_load(saved.read_text(encoding="utf-8")) or {}).get("data") or {} if saved.is_file() else {}
    manifest = data.get("manifest")
    return phantom_truth(Path(manifest).parent if manifest else run_dir / "cohort")


def _trait(case: Mapping, name: str) -> float:
    volumes = case.get("tumour_ml")
    if name in ("log_tumour_ml", "log_largest_ml"):
        if not isinstance(volumes, list):
            raise ValueError(f"cohort.json case {case.get('case_id')!r} lacks the trait `tumour_ml`.")
        return math.log1p(sum(volumes) if name == "log_tumour_ml" else max(volumes, default=0.0))
    if name not in case:
        raise ValueError(f"cohort.json case {case.get('case_id')!r} lacks the trait `{name}`.")
    return float(case[name])


def trait_features(truth: Mapping[str, Mapping], case_ids: Sequence[str], traits: Sequence[str]) -> np.ndarray:
    """``(N, T)`` trait matrix of ``case_ids``.

    Raises:
        ValueError: a case missing from the cohort's truth, or lacking a trait.
    """
    missing = [c for c in case_ids if c not in truth]
    if missing:
        raise ValueError(f"cohort.json has no truth for cases {missing[:5]}; is it the run's cohort?")
    rows = [[_trait(truth[c], t) for t in traits] for c in case_ids]
    return np.array(rows, dtype=np.float64).reshape(-1, len(traits))


def oracle_fold_probabilities(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """``(N_test, 3)`` grade probabilities of a logistic regression on standardised traits.

    Multinomial logistic regression (scikit-learn's default L2 penalty, C = 1: with a few dozen training
    patients an unpenalised fit separates and its probabilities saturate). A grade absent from the
    training fold gets probability 0.
    """
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant traits in a small fold: the scaler leaves them at 0
        model.fit(x_train, y_train)
        fitted = model.predict_proba(x_test)
    probs = np.zeros((len(x_test), len(GRADES)))
    probs[:, [GRADES.index(int(g)) for g in model.classes_]] = fitted
    return probs


def trait_oracle(run_dir: str | Path, truth: Mapping[str, Mapping] | None = None) -> dict[str, list[dict[str, float]]]:
    """``row → per-fold metrics`` of every :data:`ORACLE_ROWS` regression on the run's folds; ``{}`` when
    the run's cohort is not the phantom.

    Raises:
        FileNotFoundError: the run has no ``folds.json``. ValueError: a case lacks its truth.
    """
    run_dir = Path(run_dir)
    truth = run_truth(run_dir) if truth is None else truth
    if truth is None:
        return {}
    folds_path = run_dir / "folds.json"
    if not folds_path.is_file():
        raise FileNotFoundError(f"{run_dir} has no folds.json: train the run first.")
    folds = read_folds(folds_path)
    everyone = [c for f in folds for c in f]
    grade = {c: int(truth[c]["grade"]) for c in everyone if c in truth}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in ORACLE_ROWS}
    for test in folds:
        held_out = set(test)
        train = [c for c in everyone if c not in held_out]
        y_train, y_test = np.array([grade.get(c, 0) for c in train]), np.array([grade.get(c, 0) for c in test])
        for name, traits in ORACLE_ROWS.items():
            x_train, x_test = trait_features(truth, train, traits), trait_features(truth, test, traits)
            probs = oracle_fold_probabilities(x_train, y_train, x_test)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a small fold may lack a grade: AUC over present grades
                rows[name].append(fold_metrics(y_test, probs))
    return rows


def oracle_rows(runs: Sequence[str | Path]) -> dict[str, dict[str, MeanStd]]:
    """Reference rows (mean ± std over every fold of every run, like the networks' rows) for a table of
    ``runs``; ``{}`` unless every run was trained on the phantom."""
    per_run = [trait_oracle(r) for r in runs]
    if not per_run or not all(per_run):
        return {}
    return {name: aggregate_folds([m for rows in per_run for m in rows[name]]) for name in ORACLE_ROWS}
