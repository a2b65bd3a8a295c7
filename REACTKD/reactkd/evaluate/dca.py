"""Decision curve analysis (DCA) for binary clinical questions derived from the three grades.

At threshold probability :math:`p_t` a case is treated when its risk is :math:`\\ge p_t`; the net benefit
of a model over :math:`n` cases is [1]_

.. math:: \\mathrm{NB}(p_t) = \\frac{TP}{n} - \\frac{FP}{n} \\cdot \\frac{p_t}{1 - p_t},

"treat all" has :math:`\\mathrm{NB} = \\pi - (1 - \\pi)\\, p_t / (1 - p_t)` with prevalence :math:`\\pi`,
and "treat none" has :math:`\\mathrm{NB} = 0`. Net interventions avoided per case is [2]_
:math:`(\\mathrm{NB} - \\mathrm{NB}_{all}) \\cdot (1 - p_t) / p_t` (NaN at :math:`p_t = 0`).

.. note:: Follows the ``dcurves`` package (``dca()`` for binary outcomes, no harm, no case-control
   prevalence) exactly, including its tie rule: a risk of exactly 0 is never treated and a risk of exactly
   1 is always treated (dcurves nudges them by machine epsilon). Thresholds must lie in [0, 1).

References:
    .. [1] Vickers A.J., Elkin E.B. Decision curve analysis: a novel method for evaluating prediction
       models. Med Decis Making 26(6):565–574, 2006.
    .. [2] Vickers A.J., Van Calster B., Steyerberg E.W. Net benefit approaches to the evaluation of
       prediction models, molecular markers, and diagnostic tests. BMJ 352:i6, 2016.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass

import numpy as np

from reactkd import GRADES
from reactkd.evaluate.metrics import check_grades_probs
from reactkd.utils.enums import parse_enum

__all__ = [
    "GradeQuestion",
    "DEFAULT_THRESHOLDS",
    "DecisionCurve",
    "binary_outcome",
    "net_benefit",
    "decision_curve",
    "grade_decision_curve",
]

DEFAULT_THRESHOLDS = np.arange(100) / 100.0
"""0.00, 0.01, …, 0.99 — the ``dcurves.dca`` default (read-only: it is a shared default argument)."""
DEFAULT_THRESHOLDS.setflags(write=False)


class GradeQuestion(str, enum.Enum):
    """A yes/no question on the Edmondson–Steiner grade and the risk that answers it."""

    HIGH_GRADE = "high_grade"  # grade 3 vs 1–2; risk = prob_g3
    GRADE_GE2 = "grade_ge2"  # grade 2–3 vs 1; risk = prob_g2 + prob_g3

    @property
    def positive_grades(self) -> tuple[int, ...]:
        return (3,) if self is GradeQuestion.HIGH_GRADE else (2, 3)

    @property
    def title(self) -> str:
        return "grade 3 vs 1–2" if self is GradeQuestion.HIGH_GRADE else "grade ≥ 2 vs 1"


@dataclass(frozen=True)
class DecisionCurve:
    """Net benefit of one model over thresholds, with its references.

    Attributes:
        thresholds: shape ``(T,)`` in [0, 1).
        net_benefit: shape ``(T,)``.
        treat_all: shape ``(T,)``, net benefit of treating everyone.
        treat_none: shape ``(T,)``, zeros.
        interventions_avoided: shape ``(T,)``, net interventions avoided per case (NaN at threshold 0).
        prevalence: fraction of positive cases.
        n: number of cases.
        label: the model or method name (for legends).
    """

    thresholds: np.ndarray
    net_benefit: np.ndarray
    treat_all: np.ndarray
    treat_none: np.ndarray
    interventions_avoided: np.ndarray
    prevalence: float
    n: int
    label: str = "model"


def _question(question: GradeQuestion | str) -> GradeQuestion:
    return parse_enum(GradeQuestion, question, "question")


def binary_outcome(grade: np.ndarray, probs: np.ndarray,
                   question: GradeQuestion | str = GradeQuestion.HIGH_GRADE) -> tuple[np.ndarray, np.ndarray]:
    """Outcome and risk for a :class:`GradeQuestion`.

    Args:
        grade: true grades, shape ``(N,)`` in {1, 2, 3}.
        probs: probabilities, shape ``(N, 3)``, column ``k`` for grade ``k + 1``.
        question: ``"high_grade"`` (default) or ``"grade_ge2"``.

    Returns:
        ``(outcome, risk)``: bool ``(N,)`` and float64 ``(N,)`` (sum of the positive grades' probabilities,
        clipped to [0, 1] against rounding).

    Raises:
        ValueError: bad shapes, grades or ``question``.
    """

    q = _question(question)
    g, p = check_grades_probs(grade, probs)
    cols = [GRADES.index(k) for k in q.positive_grades]
    return np.isin(g, q.positive_grades), np.clip(p[:, cols].sum(axis=1), 0.0, 1.0)


def _check(outcome: np.ndarray, risk: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, ...]:
    y = np.asarray(outcome)
    r = np.asarray(risk, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    if y.ndim != 1 or y.shape[0] == 0 or r.shape != y.shape:
        raise ValueError(f"`outcome` and `risk` must be non-empty 1-D arrays of equal length, "
                         f"got {y.shape} and {r.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"`outcome` must be boolean or 0/1, got values {np.unique(y)[:5].tolist()}.")
    if not (np.isfinite(r).all() and (r >= 0).all() and (r <= 1).all()):
        raise ValueError(f"`risk` must lie in [0, 1], got range [{np.nanmin(r)}, {np.nanmax(r)}].")
    if t.ndim != 1 or t.size == 0 or not (np.isfinite(t).all() and (t >= 0).all() and (t < 1).all()):
        raise ValueError(f"`thresholds` must be a non-empty 1-D array in [0, 1), got {t.ravel()[:5].tolist()}...")
    return y.astype(bool), r, t


def net_benefit(outcome: np.ndarray, risk: np.ndarray, thresholds: np.ndarray = DEFAULT_THRESHOLDS) -> np.ndarray:
    """Net benefit :math:`TP/n - FP/n \\cdot p_t/(1-p_t)` at each threshold (see the module docstring).

    Args:
        outcome: bool or 0/1, shape ``(N,)``.
        risk: predicted probability of the outcome, shape ``(N,)`` in [0, 1].
        thresholds: shape ``(T,)`` in [0, 1); default 0.00…0.99.

    Returns:
        float64 array of shape ``(T,)``.

    Raises:
        ValueError: bad shapes, values outside [0, 1], or thresholds outside [0, 1).
    """
    y, r, t = _check(outcome, risk, thresholds)
    eps = sys.float_info.epsilon
    r = np.where(r == 0.0, -eps, np.where(r == 1.0, 1.0 + eps, r))  # dcurves' boundary rule
    treated = r[None, :] >= t[:, None]  # (T, N)
    n = y.shape[0]
    tp = (treated & y[None, :]).sum(axis=1) / n
    fp = (treated & ~y[None, :]).sum(axis=1) / n
    return tp - fp * t / (1.0 - t)


def decision_curve(outcome: np.ndarray, risk: np.ndarray, thresholds: np.ndarray = DEFAULT_THRESHOLDS,
                   label: str = "model") -> DecisionCurve:
    """Net benefit of a model plus the treat-all and treat-none references; same arguments as :func:`net_benefit`.

    Example:
        >>> c = decision_curve(np.array([1, 0, 1, 0]), np.array([0.9, 0.6, 0.4, 0.1]), np.array([0.2, 0.5]))
        >>> c.net_benefit.round(4).tolist(), c.treat_all.round(4).tolist(), c.prevalence
        ([0.4375, 0.0], [0.375, 0.0], 0.5)
    """
    y, r, t = _check(outcome, risk, thresholds)
    nb = net_benefit(y, r, t)
    prevalence = float(y.mean())
    odds = t / (1.0 - t)
    treat_all = prevalence - (1.0 - prevalence) * odds
    with np.errstate(divide="ignore", invalid="ignore"):
        avoided = np.where(t > 0, (nb - treat_all) / odds, np.nan)
    return DecisionCurve(t.copy(), nb, treat_all, np.zeros_like(t), avoided, prevalence, int(y.shape[0]), label)


def grade_decision_curve(grade: np.ndarray, probs: np.ndarray,
                         question: GradeQuestion | str = GradeQuestion.HIGH_GRADE,
                         thresholds: np.ndarray = DEFAULT_THRESHOLDS, label: str = "model") -> DecisionCurve:
    """:func:`decision_curve` for a :class:`GradeQuestion` on grades ``(N,)`` and probabilities ``(N, 3)``."""
    y, r = binary_outcome(grade, probs, question)
    return decision_curve(y, r, thresholds, label)
