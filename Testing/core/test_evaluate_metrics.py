"""Metrics per fold equal scikit-learn's; mean ± std over folds; absent grades are explicit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

from reactkd.evaluate.metrics import (
    METRIC_NAMES,
    MeanStd,
    MissingGradeWarning,
    aggregate_folds,
    evaluate_folds,
    fold_metrics,
    ovr_auc,
    per_class_metrics,
)
from reactkd.evaluate.predictions import PredictionTable

# hand-worked case: predicted grades [1, 2, 2, 2, 3, 1]
GRADE = np.array([1, 1, 2, 2, 3, 3])
PROBS = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1],
                  [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]])  # (6, 3)


def _random(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(1, 4, n)
    z = rng.normal(size=(n, 3))
    z[np.arange(n), g - 1] += 1.0
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    return g, p


def test_hand_computed_case():
    m = fold_metrics(GRADE, PROBS)
    assert set(m) == set(METRIC_NAMES)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    # grade 1: positives 0.7, 0.3 vs negatives 0.2, 0.1, 0.1, 0.5 -> 7/8 pairs; grades 2 and 3 separate fully
    assert m["auc"] == pytest.approx((7 / 8 + 1 + 1) / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equal_to_sklearn_on_random_data(seed):
    g, p = _random(90, seed)
    pred = p.argmax(1) + 1
    m = fold_metrics(g, p)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(g, pred), abs=1e-12)
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(g, pred), abs=1e-12)
    assert m["precision"] == pytest.approx(skm.precision_score(g, pred, average="macro"), abs=1e-12)
    assert m["recall"] == pytest.approx(skm.recall_score(g, pred, average="macro"), abs=1e-12)
    assert m["f1"] == pytest.approx(skm.f1_score(g, pred, average="macro"), abs=1e-12)
    assert m["auc"] == pytest.approx(skm.roc_auc_score(g, p, multi_class="ovr", average="macro"), abs=1e-12)
    per = per_class_metrics(g, p)
    prec, rec, f1, sup = skm.precision_recall_fscore_support(g, pred, labels=[1, 2, 3])
    for i, k in enumerate((1, 2, 3)):
        assert per[k]["precision"] == pytest.approx(prec[i]) and per[k]["recall"] == pytest.approx(rec[i])
        assert per[k]["f1"] == pytest.approx(f1[i]) and per[k]["support"] == sup[i]
        assert per[k]["auc"] == pytest.approx(skm.roc_auc_score(g == k, p[:, i]))


def test_absent_grade_present_policy_warns_and_averages_present_grades():
    keep = GRADE != 3
    with pytest.warns(MissingGradeWarning, match=r"grades \[3\] absent .*averages grades \[1, 2\] only"):
        auc = ovr_auc(GRADE[keep], PROBS[keep])
    expected = np.mean([skm.roc_auc_score(GRADE[keep] == k, PROBS[keep, k - 1]) for k in (1, 2)])
    assert auc == pytest.approx(expected)
    with pytest.warns(MissingGradeWarning):
        assert fold_metrics(GRADE[keep], PROBS[keep])["auc"] == pytest.approx(expected)


def test_absent_grade_nan_policy_and_single_grade():
    keep = GRADE != 2
    with pytest.warns(MissingGradeWarning, match="macro AUC is NaN"):
        assert np.isnan(ovr_auc(GRADE[keep], PROBS[keep], missing_grade="nan"))
    with pytest.warns(MissingGradeWarning, match=r"grades \[2, 3\] absent"):
        assert np.isnan(ovr_auc(GRADE[:2], PROBS[:2]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all grades present: no warning at all
        fold_metrics(GRADE, PROBS)
    with pytest.raises(ValueError, match=r"`missing_grade` must be one of \['present', 'nan'\], got 'skip'"):
        ovr_auc(GRADE, PROBS, missing_grade="skip")


def test_aggregation_sample_and_population_std():
    folds = [{"auc": 0.8, "f1": 0.5}, {"auc": 0.9, "f1": 0.6}, {"auc": 0.7, "f1": 0.7}]
    s = aggregate_folds(folds)
    assert s["auc"].mean == pytest.approx(0.8) and s["auc"].std == pytest.approx(0.1)  # ddof=1 (default)
    assert s["auc"] == pytest.approx(MeanStd(0.8, np.std([0.8, 0.9, 0.7], ddof=1), 3))
    p = aggregate_folds(folds, ddof=0)
    assert p["f1"].std == pytest.approx(np.sqrt(2 / 300))


def test_aggregation_skips_nan_and_validates():
    s = aggregate_folds([{"auc": 0.8}, {"auc": float("nan")}, {"auc": 0.6}])
    assert s["auc"].n == 2 and s["auc"].mean == pytest.approx(0.7) and s["auc"].std == pytest.approx(np.sqrt(0.02))
    one = aggregate_folds([{"auc": 0.8}])
    assert one["auc"].mean == 0.8 and np.isnan(one["auc"].std) and one["auc"].n == 1
    assert np.isnan(aggregate_folds([{"auc": float("nan")}])["auc"].mean)
    with pytest.raises(ValueError, match=r"`ddof` must be 0 \(population\) or 1 \(sample std\), got 2"):
        aggregate_folds([{"auc": 0.8}], ddof=2)
    with pytest.raises(ValueError, match=r"entries \[1\] lack metric 'f1'"):
        aggregate_folds([{"f1": 0.8}, {"auc": 0.8}])
    with pytest.raises(ValueError, match="at least one fold"):
        aggregate_folds([])


def test_evaluate_folds_over_tables():
    tables = []
    for k in range(3):
        g, p = _random(30, 10 + k)
        tables.append(PredictionTable([f"c{i}" for i in range(30)], [f"p{i}" for i in range(30)], [k] * 30, g, p,
                                      np.log(p)))
    per_fold, summary = evaluate_folds(tables)
    assert len(per_fold) == 3
    aucs = [skm.roc_auc_score(t.grade, t.probs, multi_class="ovr") for t in tables]
    assert summary["auc"].mean == pytest.approx(np.mean(aucs))
    assert summary["auc"].std == pytest.approx(np.std(aucs, ddof=1))


@pytest.mark.parametrize(
    "grade, probs, pattern",
    [
        (np.array([0, 1, 2]), np.full((3, 3), 1 / 3), r"grades \(1, 2, 3\) \(not class indices 0–2\), got \[0\]"),
        (np.array([1, 2]), np.full((3, 3), 1 / 3), r"`probs` must have shape \(2, 3\) to match `grade`, got \(3, 3\)"),
        (np.array([]), np.zeros((0, 3)), r"`grade` must be a non-empty 1-D array, got shape \(0,\)"),
        (np.array([1, 2, 3]), np.full((3, 3), np.nan), r"`probs` must be finite"),
    ],
)
def test_bad_inputs(grade, probs, pattern):
    with pytest.raises(ValueError, match=pattern):
        fold_metrics(grade, probs)


def test_docstring_examples_run():
    import doctest

    import reactkd.evaluate.dca as dca_module
    import reactkd.evaluate.metrics as metrics_module

    for module in (metrics_module, dca_module):
        result = doctest.testmod(module)
        assert result.attempted >= 2 and result.failed == 0, module.__name__
