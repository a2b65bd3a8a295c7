"""One-vs-rest ROC curves against scikit-learn; t-SNE shape, determinism and small-cohort perplexity."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from reactkd.evaluate.metrics import MissingGradeWarning
from reactkd.evaluate.roc import MACRO, average_roc, ovr_roc_curves
from reactkd.evaluate.tsne import effective_perplexity, tsne_embedding


def _random(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(1, 4, n)
    z = rng.normal(size=(n, 3))
    z[np.arange(n), g - 1] += 1.5
    return g, np.exp(z) / np.exp(z).sum(1, keepdims=True)


def test_ovr_curves_equal_sklearn():
    g, p = _random(60, 0)
    curves = ovr_roc_curves(g, p)
    assert list(curves) == ["grade 1", "grade 2", "grade 3", MACRO]
    for k in (1, 2, 3):
        fpr, tpr, _ = skm.roc_curve(g == k, p[:, k - 1])
        np.testing.assert_array_equal(curves[f"grade {k}"].fpr, fpr)
        np.testing.assert_array_equal(curves[f"grade {k}"].tpr, tpr)
        assert curves[f"grade {k}"].auc == pytest.approx(skm.auc(fpr, tpr))
    macro = curves[MACRO]
    assert macro.auc == pytest.approx(skm.roc_auc_score(g, p, multi_class="ovr", average="macro"))
    assert macro.fpr[0] == 0 and macro.tpr[0] == 0 and macro.tpr[-1] == 1 and np.all(np.diff(macro.tpr) >= 0)
    # area of the averaged curve is close to (not equal to) the mean AUC
    assert skm.auc(macro.fpr, macro.tpr) == pytest.approx(macro.auc, abs=0.002)  # measured 0.0002


def test_missing_grade_has_no_curve():
    g, p = _random(30, 1)
    keep = g != 2
    with pytest.warns(MissingGradeWarning, match="grade 2 has 0 of"):
        curves = ovr_roc_curves(g[keep], p[keep])
    assert list(curves) == ["grade 1", "grade 3", MACRO]
    with pytest.raises(ValueError, match=r"`grid_size` must be an integer >= 2, got 1"):
        ovr_roc_curves(g, p, grid_size=1)


def test_average_roc_over_folds():
    curves = [ovr_roc_curves(*_random(45, s))[MACRO] for s in range(3)]
    avg = average_roc(curves, grid_size=51, label="REACT-KD")
    assert avg.fpr.shape == avg.tpr.shape == avg.tpr_std.shape == (52,)
    assert avg.auc == pytest.approx(np.mean([c.auc for c in curves])) and avg.label == "REACT-KD"
    same = average_roc([curves[0], curves[0]], grid_size=51)
    np.testing.assert_allclose(same.tpr_std, 0.0)
    with pytest.raises(ValueError, match="at least one RocCurve"):
        average_roc([])


def test_tsne_shape_and_determinism():
    x = np.random.default_rng(0).normal(size=(40, 6))
    with pytest.warns(UserWarning, match=r"`perplexity` 30 is too large for 40 samples; using 13"):
        a = tsne_embedding(x, seed=3, max_iter=250)
    b = tsne_embedding(x, seed=3, perplexity=13.0, max_iter=250)
    d = tsne_embedding(x, seed=4, perplexity=13.0, max_iter=250, standardize=True)
    assert a.shape == (40, 2) and a.dtype == np.float64 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # same seed (and the same effective perplexity): identical
    assert not np.allclose(a, d)


def test_tsne_small_cohort_and_errors():
    assert effective_perplexity(100, 30) == 30
    assert effective_perplexity(10, 30) == pytest.approx(3.0)
    with pytest.warns(UserWarning, match="using 1"):
        e = tsne_embedding(np.random.default_rng(1).normal(size=(4, 3)), max_iter=250, n_components=3)
    assert e.shape == (4, 3)
    with pytest.raises(ValueError, match=r"at least 2 samples, got `n_samples` = 1"):
        tsne_embedding(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"`features` must have shape \(N, D\), got \(5,\)"):
        tsne_embedding(np.zeros(5))
    with pytest.raises(ValueError, match=r"`max_iter` must be an integer >= 250, got 10"):
        tsne_embedding(np.zeros((5, 2)), max_iter=10)
    with pytest.raises(ValueError, match=r"`perplexity` must be > 0, got -1"):
        tsne_embedding(np.zeros((5, 2)), perplexity=-1)
