"""Decision curve analysis equals the dcurves package; treat-all / treat-none references are right."""

from __future__ import annotations

import numpy as np
import pytest

from reactkd.evaluate.dca import (
    DEFAULT_THRESHOLDS,
    GradeQuestion,
    binary_outcome,
    decision_curve,
    grade_decision_curve,
    net_benefit,
)


def _cohort(n: int = 80, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(1, 4, n)
    z = rng.normal(size=(n, 3))
    z[np.arange(n), g - 1] += 1.0
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p = np.round(p, 2)  # ties with the 0.01-step thresholds, the edge dcurves handles with >=
    p[:, 2] = 1.0 - p[:, 0] - p[:, 1]
    p[:3] = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]  # risks of exactly 0 and 1
    return g, np.clip(p, 0.0, 1.0)


@pytest.mark.parametrize("question", list(GradeQuestion))
def test_equal_to_dcurves(question):
    pd = pytest.importorskip("pandas")
    dcurves = pytest.importorskip("dcurves")
    g, p = _cohort()
    y, risk = binary_outcome(g, p, question)
    thresholds = np.arange(0, 100) / 100
    ours = decision_curve(y, risk, thresholds)
    ref = dcurves.dca(data=pd.DataFrame({"y": y.astype(int), "model": risk}), outcome="y", modelnames=["model"],
                      thresholds=thresholds)
    for name, values in (("model", ours.net_benefit), ("all", ours.treat_all), ("none", ours.treat_none)):
        expected = ref.loc[ref.model == name, "net_benefit"].to_numpy(dtype=float)
        np.testing.assert_allclose(values, expected, rtol=0, atol=1e-9, err_msg=name)
    nia = ref.loc[ref.model == "model", "net_intervention_avoided"].to_numpy(dtype=float)
    np.testing.assert_allclose(ours.interventions_avoided[1:], nia[1:], rtol=0, atol=1e-9)
    assert np.isnan(ours.interventions_avoided[0])
    assert ours.prevalence == pytest.approx(ref["prevalence"].iloc[0])


def test_references_and_hand_values():
    y = np.array([1, 1, 0, 0, 0], dtype=bool)
    risk = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    t = np.array([0.0, 0.25, 0.5, 0.8])
    c = decision_curve(y, risk, t)
    # t=0.5: treated {0.9, 0.6}: TP=1, FP=1 -> 1/5 - 1/5 * 1 = 0;  t=0.25: TP=2, FP=1 -> 2/5 - 1/5 * 1/3
    np.testing.assert_allclose(c.net_benefit, [2 / 5, 2 / 5 - 1 / 15, 0.0, 1 / 5])
    np.testing.assert_allclose(c.treat_all, 0.4 - 0.6 * t / (1 - t))
    np.testing.assert_array_equal(c.treat_none, np.zeros(4))
    assert c.prevalence == 0.4 and c.n == 5


def test_perfect_model_reaches_prevalence_and_boundary_rule():
    y = np.array([1, 0, 1, 0], dtype=bool)
    np.testing.assert_allclose(net_benefit(y, y.astype(float), DEFAULT_THRESHOLDS), 0.5)  # risk 1 always treated
    assert net_benefit(y, np.zeros(4), np.array([0.0]))[0] == 0.0  # risk 0 never treated, even at threshold 0


def test_binary_outcomes_from_grades():
    g = np.array([1, 2, 3])
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7]])
    y, r = binary_outcome(g, p, "high_grade")
    assert y.tolist() == [False, False, True] and r.tolist() == [0.1, 0.3, 0.7]
    y, r = binary_outcome(g, p, GradeQuestion.GRADE_GE2)
    assert y.tolist() == [False, True, True]
    np.testing.assert_allclose(r, [0.4, 0.8, 0.9])
    c = grade_decision_curve(g, p, "grade_ge2", label="REACT-KD")
    assert c.label == "REACT-KD" and c.thresholds.shape == (100,) and c.prevalence == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"thresholds": np.array([0.5, 1.0])}, r"`thresholds` must be a non-empty 1-D array in \[0, 1\)"),
        ({"risk": np.array([0.2, 1.2])}, r"`risk` must lie in \[0, 1\], got range \[0.2, 1.2\]"),
        ({"outcome": np.array([0, 2])}, r"`outcome` must be boolean or 0/1"),
        ({"risk": np.array([0.2])}, r"equal length, got \(2,\) and \(1,\)"),
    ],
)
def test_bad_inputs(kwargs, pattern):
    args = {"outcome": np.array([0, 1]), "risk": np.array([0.2, 0.8]), "thresholds": np.array([0.1])} | kwargs
    with pytest.raises(ValueError, match=pattern):
        decision_curve(**args)


def test_bad_question():
    with pytest.raises(ValueError, match=r"`question` must be one of \['high_grade', 'grade_ge2'\], got 'g3'"):
        binary_outcome(np.array([1]), np.array([[1.0, 0, 0]]), "g3")
