"""Report figures draw what they say (read back from the matplotlib Figure: series, their data, axes labels,
legend entries, titles); the PNG is that figure at its resolution; bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.image import imread  # noqa: E402

from reactkd.evaluate.dca import GradeQuestion, grade_decision_curve  # noqa: E402
from reactkd.evaluate.figures import GRADE_COLORS, dca_figure, plot_dca, plot_roc, plot_tsne, roc_figure, tsne_figure  # noqa: E402
from reactkd.evaluate.roc import average_roc, ovr_roc_curves  # noqa: E402
from reactkd.evaluate.training_figures import loss_curves_figure, plot_loss_curves  # noqa: E402


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(0)
    g = rng.integers(1, 4, 45)
    z = rng.normal(size=(45, 3))
    z[np.arange(45), g - 1] += 1.5
    return g, np.exp(z) / np.exp(z).sum(1, keepdims=True)


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_roc_one_line_per_curve_with_its_auc_and_the_chance_diagonal(cohort):
    g, p = cohort
    curves = ovr_roc_curves(g, p)
    ax, = roc_figure(curves, title="ROC — student").axes
    lines = ax.get_lines()
    assert len(lines) == len(curves) + 1 == 5  # three grades, the macro average, chance
    for line, c in zip(lines, curves.values()):
        np.testing.assert_array_equal(line.get_xdata(), c.fpr)
        np.testing.assert_array_equal(line.get_ydata(), c.tpr)
    assert _legend(ax) == [f"grade {k} (AUC {curves[f'grade {k}'].auc:.3f})" for k in (1, 2, 3)] + [
        f"macro (AUC {curves['macro'].auc:.3f})", "chance"]
    assert lines[3].get_linestyle() == "--" and lines[4].get_linestyle() == ":"
    assert [ln.get_color() for ln in lines[:3]] == [GRADE_COLORS[k] for k in (1, 2, 3)]
    np.testing.assert_array_equal(lines[4].get_xydata(), [[0, 0], [1, 1]])
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("ROC — student", "False positive rate",
                                                                  "True positive rate")
    assert len(ax.collections) == 0  # no ±std band without folds


def test_roc_of_averaged_folds_draws_a_band(cohort):
    g, p = cohort
    folds = [ovr_roc_curves(g[i::3], p[i::3])["grade 3"] for i in range(3)]
    ax, = roc_figure({"grade 3": average_roc(folds)}).axes
    assert len(ax.collections) == 1 and len(ax.get_lines()) == 2


def test_dca_one_line_per_method_and_the_two_references(cohort):
    g, p = cohort
    noisy = 0.5 * p + 0.5 / 3
    curves = {"REACT-KD": grade_decision_curve(g, p, GradeQuestion.HIGH_GRADE),
              "KD": grade_decision_curve(g, noisy, GradeQuestion.HIGH_GRADE)}
    ax, = dca_figure(curves, title=GradeQuestion.HIGH_GRADE.title).axes
    assert _legend(ax) == ["REACT-KD", "KD", "treat all", "treat none"]
    ref = curves["REACT-KD"]
    drawn = [ln.get_ydata() for ln in ax.get_lines()]
    for y, want in zip(drawn, (ref.net_benefit, curves["KD"].net_benefit, ref.treat_all, ref.treat_none)):
        np.testing.assert_array_equal(y, want)
    assert ax.get_title() == GradeQuestion.HIGH_GRADE.title
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Threshold probability", "Net benefit")
    assert ax.get_xlim() == (ref.thresholds.min(), ref.thresholds.max())
    assert ax.get_ylim()[1] == pytest.approx(max(ref.prevalence, ref.net_benefit.max(), curves["KD"].net_benefit.max())
                                             + 0.05)


def test_dca_refuses_curves_of_other_cases_and_a_non_png(tmp_path, cohort):
    g, p = cohort
    curves = {"a": grade_decision_curve(g, p), "x": grade_decision_curve(g[:30], p[:30])}
    with pytest.raises(ValueError, match="'x' .* were not evaluated on the same cases"):
        dca_figure(curves)
    with pytest.raises(ValueError, match=r"`path` must end in .png, got '.*dca.pdf'"):
        plot_dca({"a": curves["a"]}, tmp_path / "dca.pdf")
    assert list(tmp_path.iterdir()) == []


def test_tsne_one_series_per_grade_with_its_points(cohort):
    g, _ = cohort
    e = np.random.default_rng(1).normal(size=(45, 2))
    ax, = tsne_figure(e, g, title="t-SNE of student logits").axes
    assert len(ax.collections) == 3
    for k, points in zip((1, 2, 3), ax.collections):
        np.testing.assert_array_equal(points.get_offsets(), e[g == k])
    assert _legend(ax) == [f"grade {k} (n={int((g == k).sum())})" for k in (1, 2, 3)]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("t-SNE of student logits", "t-SNE 1", "t-SNE 2")
    # a grade nobody has is no series (and no legend entry)
    assert _legend(tsne_figure(e[g != 2], g[g != 2]).axes[0]) == [f"grade {k} (n={int((g == k).sum())})"
                                                                   for k in (1, 3)]


def test_plot_functions_write_the_figure_as_a_png_and_nothing_else(tmp_path, cohort):
    g, p = cohort
    roc = plot_roc(ovr_roc_curves(g, p), tmp_path / "roc.png", dpi=100)
    tsne = plot_tsne(np.random.default_rng(1).normal(size=(45, 2)), g, tmp_path / "tsne.png", dpi=100)
    assert imread(roc).shape[:2] == (450, 500)  # 5 × 4.5 inches at 100 dpi
    assert imread(tsne).shape[:2] == (450, 500)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["roc.png", "tsne.png"]  # no temp files left


def _metrics(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    lines = ["stage,epoch,train_loss,val_loss,val_auc"]
    lines += [f"{s},{e},{1 / (e + 1)},{1.2 / (e + 1)},{'' if e % 2 else 0.5 + e / 40}"
              for s in (1, 2) for e in range(8)]
    csv_path.write_text("\n".join(lines) + "\n")
    return csv_path


def test_loss_curves_losses_left_metrics_right_one_line_per_group(tmp_path):
    fig = loss_curves_figure(_metrics(tmp_path), group_by=("stage",), title="Run 7")
    left, right = fig.axes
    assert _legend(left) == ["stage=1 train_loss", "stage=1 val_loss", "stage=2 train_loss", "stage=2 val_loss"]
    assert _legend(right) == ["stage=1 val_auc", "stage=2 val_auc"]
    np.testing.assert_allclose(left.get_lines()[1].get_ydata(), [1.2 / (e + 1) for e in range(8)])
    auc = right.get_lines()[0]
    np.testing.assert_array_equal(auc.get_xdata(), [0, 2, 4, 6])  # empty cells are skipped, not drawn as 0
    np.testing.assert_allclose(auc.get_ydata(), [0.5 + e / 40 for e in (0, 2, 4, 6)])
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [("epoch", "Loss"),
                                                                      ("epoch", "Validation metric")]
    assert fig.get_suptitle() == "Run 7"
    # without a val_* metric there is one panel
    assert len(loss_curves_figure(_metrics(tmp_path), metric_columns=[], group_by=("stage",)).axes) == 1


def test_loss_curves_refuse_what_they_cannot_draw(tmp_path):
    csv_path = _metrics(tmp_path)
    with pytest.raises(ValueError, match=r"`epoch` is not increasing within group all rows; pass `group_by`"):
        plot_loss_curves(csv_path, tmp_path / "l2.png")
    with pytest.raises(ValueError, match=r"missing columns \['fold'\]"):
        plot_loss_curves(csv_path, tmp_path / "l3.png", group_by=("fold",))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        plot_loss_curves(tmp_path / "nope.csv", tmp_path / "l4.png")
    assert [f.name for f in tmp_path.iterdir()] == ["metrics.csv"]


def test_tsne_plot_rejects_bad_grades(tmp_path):
    with pytest.raises(ValueError, match=r"`grade` must hold grades \(1, 2, 3\), got \[0\]"):
        plot_tsne(np.zeros((3, 2)), np.array([0, 1, 2]), tmp_path / "t.png")
    with pytest.raises(ValueError, match=r"`embedding` must be \(N, 2\) and `grade` \(N,\), got \(3, 3\)"):
        plot_tsne(np.zeros((3, 3)), np.array([1, 1, 2]), tmp_path / "t.png")
