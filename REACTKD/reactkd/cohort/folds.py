"""Patient-level stratified k-fold splits: no patient in two folds, grades balanced, deterministic by seed."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from reactkd.cohort.manifest import CaseRecord

__all__ = ["patient_folds", "write_folds", "read_folds", "N_FOLDS"]

N_FOLDS = 3
"""The paper's 3-fold patient-level cross-validation."""


def patient_folds(records: list[CaseRecord], n_folds: int = N_FOLDS, seed: int = 0) -> list[list[str]]:
    """Split cases into ``n_folds`` test folds, grouped by patient and stratified by grade.

    Uses scikit-learn's ``StratifiedGroupKFold`` (shuffled with ``seed``), so every case of a patient is in
    the same fold and each fold's grade mix is close to the cohort's.

    Returns:
        ``folds[k]`` = sorted case ids of test fold ``k``; fold ``k`` trains on all other folds.

    Raises:
        ValueError: ``n_folds`` < 2, more folds than patients, or missing grades.
    """

    if n_folds < 2:
        raise ValueError(f"`n_folds` must be >= 2, got {n_folds}.")
    patients = sorted({r.patient_id for r in records})
    if n_folds > len(patients):
        raise ValueError(f"`n_folds` = {n_folds} exceeds the number of patients ({len(patients)}).")
    ungraded = [r.case_id for r in records if r.grade is None]
    if ungraded:
        raise ValueError(f"cases without a grade cannot be stratified: {ungraded[:10]}.")
    ordered = sorted(records, key=lambda r: r.case_id)  # the split must not depend on manifest row order
    y = np.array([r.grade for r in ordered])
    groups = np.array([patients.index(r.patient_id) for r in ordered])
    if n_folds > np.bincount(y).max():
        # Stratification is impossible (every grade rarer than the fold count): patients are shuffled
        # and dealt round-robin instead, still never splitting a patient.
        warnings.warn(f"every grade has fewer than {n_folds} cases: folds are grouped by patient but not "
                      "stratified.", stacklevel=2)
        order = np.random.default_rng(seed).permutation(len(patients))
        fold_of = {patients[p]: i % n_folds for i, p in enumerate(order)}
        return [sorted(r.case_id for r in ordered if fold_of[r.patient_id] == k) for k in range(n_folds)]
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(splitter.split(np.zeros(len(y)), y, groups))
    return [sorted(ordered[i].case_id for i in test) for _, test in splits]


def write_folds(folds: list[list[str]], path: str | os.PathLike) -> Path:
    """Write folds as JSON (``{"folds": [[case ids], …]}``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"folds": folds}, indent=1))
    return path


def read_folds(path: str | os.PathLike) -> list[list[str]]:
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("folds"), list):
        raise ValueError(f"{path}: expected a JSON object with a `folds` list.")
    return [list(map(str, f)) for f in data["folds"]]
