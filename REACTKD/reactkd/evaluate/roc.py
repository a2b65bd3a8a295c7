"""One-vs-rest ROC curves per grade, their macro average, and averaging curves over folds.

The macro curve is the vertical average of the per-grade curves on a common false-positive-rate grid
(scikit-learn's "macro-average ROC" recipe); its reported ``auc`` is the mean of the per-grade AUCs, i.e. the
value in the metrics table (:func:`reactkd.evaluate.metrics.ovr_auc`), not the area under the averaged curve.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from reactkd import GRADES
from reactkd.evaluate.metrics import MissingGradeWarning, check_grades_probs

__all__ = ["RocCurve", "MACRO", "grade_key", "ovr_roc_curves", "average_roc"]

MACRO = "macro"


def grade_key(grade: int) -> str:
    """Key and legend label of a grade's curve, e.g. ``"grade 3"``."""
    return f"grade {grade}"


@dataclass(frozen=True)
class RocCurve:
    """One ROC curve.

    Attributes:
        fpr: false-positive rates, shape ``(M,)``, non-decreasing from 0 to 1 (averaged curves: ``(0, 0)``
            followed by the ``grid_size`` grid points).
        tpr: true-positive rates, shape ``(M,)``.
        auc: area under the curve (for ``"macro"``: mean of the per-grade AUCs).
        label: legend label.
        tpr_std: shape ``(M,)`` spread over folds (from :func:`average_roc`), else ``None``.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    label: str
    tpr_std: np.ndarray | None = None


def ovr_roc_curves(grade: np.ndarray, probs: np.ndarray, grid_size: int = 201) -> dict[str, RocCurve]:
    """One-vs-rest ROC curve of each grade (scikit-learn ``roc_curve``) and the macro average.

    Args:
        grade: true grades, shape ``(N,)`` in {1, 2, 3}.
        probs: probabilities, shape ``(N, 3)``.
        grid_size: points of the common FPR grid of the macro curve; default 201 (step 0.005), >= 2.

    Returns:
        ``{"grade 1": …, "grade 2": …, "grade 3": …, "macro": …}``; a grade absent from ``grade`` (or the only
        one present) has no curve, and ``"macro"`` is missing when fewer than two curves exist.

    Warns:
        MissingGradeWarning: for each grade without a curve.

    Raises:
        ValueError: bad shapes or grades, or ``grid_size`` < 2.
    """

    if not isinstance(grid_size, (int, np.integer)) or grid_size < 2:
        raise ValueError(f"`grid_size` must be an integer >= 2, got {grid_size!r}.")
    g, p = check_grades_probs(grade, probs)
    curves: dict[str, RocCurve] = {}
    for i, k in enumerate(GRADES):
        y = g == k
        if y.all() or not y.any():
            warnings.warn(f"grade {k} has {int(y.sum())} of {y.size} cases; no one-vs-rest ROC curve for it.",
                          MissingGradeWarning, stacklevel=2)
            continue
        fpr, tpr, _ = roc_curve(y, p[:, i])
        curves[grade_key(k)] = RocCurve(fpr, tpr, float(roc_auc_score(y, p[:, i])), grade_key(k))
    if len(curves) >= 2:
        grid = np.linspace(0.0, 1.0, grid_size)
        mean_tpr = np.mean([_interp(c, grid) for c in curves.values()], axis=0)
        curves[MACRO] = RocCurve(np.r_[0.0, grid], np.r_[0.0, mean_tpr],
                                 float(np.mean([c.auc for c in curves.values()])), MACRO)
    return curves


def _interp(curve: RocCurve, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of TPR on ``grid`` (scikit-learn's macro-average recipe); the curves then get a
    leading ``(0, 0)`` so the vertical segment at FPR 0 is drawn."""
    return np.interp(grid, curve.fpr, curve.tpr)


def average_roc(curves: Sequence[RocCurve], grid_size: int = 201, label: str | None = None) -> RocCurve:
    """Vertical average of curves (e.g. one per fold) on a common FPR grid, with the standard deviation.

    Args:
        curves: at least one :class:`RocCurve`.
        grid_size: points of the FPR grid; default 201, >= 2.
        label: legend label; default the first curve's.

    Returns:
        A :class:`RocCurve` whose ``auc`` is the mean of the input AUCs and ``tpr_std`` the population
        standard deviation of the interpolated TPRs (a band for plotting, not an estimate).

    Raises:
        ValueError: no curves, or ``grid_size`` < 2.
    """
    if not curves:
        raise ValueError("`curves` must hold at least one RocCurve, got 0.")
    if not isinstance(grid_size, (int, np.integer)) or grid_size < 2:
        raise ValueError(f"`grid_size` must be an integer >= 2, got {grid_size!r}.")
    grid = np.linspace(0.0, 1.0, grid_size)
    tprs = np.array([_interp(c, grid) for c in curves])
    return RocCurve(np.r_[0.0, grid], np.r_[0.0, tprs.mean(axis=0)], float(np.mean([c.auc for c in curves])),
                    label or curves[0].label, np.r_[0.0, tprs.std(axis=0)])
