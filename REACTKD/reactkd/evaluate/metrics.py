"""Classification metrics per fold (scikit-learn) and their mean ± std over cross-validation folds.

Conventions (all documented choices, all tested):

- The predicted grade is ``argmax(probs) + 1``; ties go to the lower grade (NumPy ``argmax``).
- ``precision``, ``recall`` and ``f1`` are scikit-learn's ``average="macro"`` over the grades present in the
  true or predicted grades of the fold (scikit-learn's default label set), with ``zero_division=0``.
- ``accuracy`` is the plain fraction correct; ``balanced_accuracy`` is the macro average of per-grade recall
  (scikit-learn's ``balanced_accuracy_score``), which some papers call "macro accuracy".
- ``auc`` is the one-vs-rest macro AUC: the mean over grades ``g`` of the binary ROC AUC of
  ``probs[:, g - 1]`` for ``grade == g`` — identical to ``roc_auc_score(..., multi_class="ovr",
  average="macro")`` when all three grades occur. A fold lacking a grade cannot give that grade's AUC; see
  :class:`MissingGrade`.
- Aggregation over folds is mean ± **sample** standard deviation (``ddof=1``), the usual choice for the
  paper's 3 folds; ``ddof=0`` gives the population standard deviation.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, precision_recall_fscore_support, roc_auc_score

from reactkd import GRADES
from reactkd.utils.enums import parse_enum

if TYPE_CHECKING:
    from reactkd.evaluate.predictions import PredictionTable

__all__ = [
    "METRIC_NAMES",
    "MissingGrade",
    "MissingGradeWarning",
    "MeanStd",
    "check_grades_probs",
    "ovr_auc",
    "fold_metrics",
    "per_class_metrics",
    "aggregate_folds",
    "evaluate_folds",
]

METRIC_NAMES = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc")


class MissingGrade(str, enum.Enum):
    """What the macro AUC does when a fold lacks a grade (a one-vs-rest AUC needs positives and negatives)."""

    PRESENT = "present"  # average over the grades present (at least 2), warn (default)
    NAN = "nan"  # the fold's macro AUC is NaN, warn


class MissingGradeWarning(UserWarning):
    """A grade is absent, so a one-vs-rest AUC is left out or undefined."""


class MeanStd(NamedTuple):
    """A metric over folds: mean, standard deviation and how many folds (non-NaN values) contributed."""

    mean: float
    std: float
    n: int


def check_grades_probs(grade: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert true grades ``(N,)`` in {1, 2, 3} and scores ``(N, 3)``.

    Raises:
        ValueError: wrong shapes, ``N == 0``, grades outside 1–3, or non-finite scores.
    """
    g = np.asarray(grade)
    p = np.asarray(probs, dtype=np.float64)
    if g.ndim != 1 or g.shape[0] == 0:
        raise ValueError(f"`grade` must be a non-empty 1-D array, got shape {g.shape}.")
    if p.shape != (g.shape[0], len(GRADES)):
        raise ValueError(f"`probs` must have shape ({g.shape[0]}, {len(GRADES)}) to match `grade`, got {p.shape}.")
    bad = sorted(set(np.unique(g).tolist()) - set(GRADES))
    if bad:
        raise ValueError(f"`grade` must hold grades {GRADES} (not class indices 0–2), got {bad}.")
    if not np.all(np.isfinite(p)):
        raise ValueError("`probs` must be finite, got NaN or inf.")
    return g.astype(np.int64), p


def _binary_auc(y: np.ndarray, score: np.ndarray) -> float:

    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, score))


def ovr_auc(grade: np.ndarray, probs: np.ndarray, *, missing_grade: MissingGrade | str = MissingGrade.PRESENT) -> float:
    """One-vs-rest macro ROC AUC.

    .. math:: \\mathrm{AUC}_{macro} = \\frac{1}{|G|} \\sum_{g \\in G} \\mathrm{AUC}(\\mathbb{1}[y = g], p_g)

    with ``G`` = grades present in ``grade`` (all three unless a fold lacks one).

    Args:
        grade: true grades, shape ``(N,)`` in {1, 2, 3}.
        probs: probabilities (or any scores), shape ``(N, 3)``, column ``k`` for grade ``k + 1``.
        missing_grade: see :class:`MissingGrade`; default ``"present"``.

    Returns:
        The macro AUC, or NaN when fewer than two grades are present (or a grade is absent under ``"nan"``).

    Warns:
        MissingGradeWarning: when a grade is absent.

    Raises:
        ValueError: bad shapes or grades, or an unknown ``missing_grade``.
    """
    g, p = check_grades_probs(grade, probs)
    return _macro_auc(g, p, _policy(missing_grade), stacklevel=3)


def _macro_auc(g: np.ndarray, p: np.ndarray, policy: MissingGrade, stacklevel: int) -> float:
    present = [k for k in GRADES if np.any(g == k)]
    if len(present) < len(GRADES):
        absent = sorted(set(GRADES) - set(present))
        undefined = policy is MissingGrade.NAN or len(present) < 2
        what = "macro AUC is NaN" if undefined else f"macro AUC averages grades {present} only"
        warnings.warn(f"grades {absent} absent from `grade` (n={g.shape[0]}); {what}.", MissingGradeWarning,
                      stacklevel=stacklevel)
        if undefined:
            return float("nan")
    return float(np.mean([_binary_auc(g == k, p[:, k - 1]) for k in present]))


def _policy(missing_grade: MissingGrade | str) -> MissingGrade:
    return parse_enum(MissingGrade, missing_grade, "missing_grade")


def fold_metrics(grade: np.ndarray, probs: np.ndarray, *,
                 missing_grade: MissingGrade | str = MissingGrade.PRESENT) -> dict[str, float]:
    """Metrics of one fold, keyed by :data:`METRIC_NAMES` (see the module docstring for definitions).

    Args:
        grade: true grades, shape ``(N,)`` in {1, 2, 3}.
        probs: probabilities, shape ``(N, 3)``.
        missing_grade: AUC policy when a grade is absent, see :class:`MissingGrade`.

    Raises:
        ValueError: bad shapes or grades.

    Example:
        >>> m = fold_metrics(np.array([1, 2, 3, 3]), np.array([[.8, .1, .1], [.2, .7, .1], [.1, .2, .7], [.1, .6, .3]]))
        >>> round(m["accuracy"], 3), round(m["recall"], 3), m["auc"]
        (0.75, 0.833, 1.0)
    """

    g, p = check_grades_probs(grade, probs)
    pred = p.argmax(axis=1) + 1
    prec, rec, f1, _ = precision_recall_fscore_support(g, pred, average="macro", zero_division=0.0)
    with warnings.catch_warnings():  # sklearn warns when a predicted grade is absent from y_true
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        bacc = balanced_accuracy_score(g, pred)
    auc = _macro_auc(g, p, _policy(missing_grade), stacklevel=3)
    return {"accuracy": float(accuracy_score(g, pred)), "balanced_accuracy": float(bacc), "precision": float(prec),
            "recall": float(rec), "f1": float(f1), "auc": auc}


def per_class_metrics(grade: np.ndarray, probs: np.ndarray) -> dict[int, dict[str, float]]:
    """Per-grade precision, recall, F1, one-vs-rest AUC and support.

    Returns:
        ``{grade: {"precision", "recall", "f1", "auc", "support"}}`` for grades 1, 2, 3; ``auc`` is NaN for a
        grade that is absent (or the only one present); precision/recall/F1 use ``zero_division=0``.

    Raises:
        ValueError: bad shapes or grades.
    """

    g, p = check_grades_probs(grade, probs)
    pred = p.argmax(axis=1) + 1
    prec, rec, f1, sup = precision_recall_fscore_support(g, pred, labels=list(GRADES), average=None,
                                                         zero_division=0.0)
    return {k: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                "auc": _binary_auc(g == k, p[:, i]), "support": int(sup[i])} for i, k in enumerate(GRADES)}


def aggregate_folds(per_fold: Sequence[Mapping[str, float]], *, ddof: int = 1) -> dict[str, MeanStd]:
    """Mean ± standard deviation of each metric over folds.

    .. math::
        \\bar m = \\frac{1}{K}\\sum_k m_k, \\qquad
        s = \\sqrt{\\frac{1}{K - \\mathrm{ddof}}\\sum_k (m_k - \\bar m)^2}

    NaN values (e.g. an undefined AUC) are left out and reported through ``MeanStd.n``; ``std`` is NaN when
    fewer than ``ddof + 1`` values remain, ``mean`` is NaN when none does.

    Args:
        per_fold: one mapping per fold, e.g. from :func:`fold_metrics`; keys of the first fold are used.
        ddof: 1 (default) = sample standard deviation; 0 = population standard deviation.

    Raises:
        ValueError: no folds, a fold missing a key, or ``ddof`` not 0 or 1.
    """
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise ValueError(f"`ddof` must be 0 (population) or 1 (sample std), got {ddof!r}.")
    if not per_fold:
        raise ValueError("`per_fold` must hold at least one fold's metrics, got 0.")
    out: dict[str, MeanStd] = {}
    for key in per_fold[0]:
        missing = [i for i, m in enumerate(per_fold) if key not in m]
        if missing:
            raise ValueError(f"`per_fold` entries {missing} lack metric {key!r} present in fold 0.")
        v = np.asarray([float(m[key]) for m in per_fold])
        v = v[~np.isnan(v)]
        mean = float(v.mean()) if v.size else float("nan")
        std = float(v.std(ddof=ddof)) if v.size > ddof else float("nan")
        out[key] = MeanStd(mean, std, int(v.size))
    return out


def evaluate_folds(
    tables: Sequence[PredictionTable], *, ddof: int = 1, missing_grade: MissingGrade | str = MissingGrade.PRESENT
) -> tuple[list[dict[str, float]], dict[str, MeanStd]]:
    """:func:`fold_metrics` of each :class:`~reactkd.evaluate.predictions.PredictionTable`, then aggregation.

    Returns:
        ``(per_fold, summary)``: a metrics dict per table (in order) and :func:`aggregate_folds` of them.
    """
    per_fold = [fold_metrics(t.grade, t.probs, missing_grade=missing_grade) for t in tables]
    return per_fold, aggregate_folds(per_fold, ddof=ddof)
