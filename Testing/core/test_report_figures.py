"""The report figures a person reads: training panels (one per stage and quantity, folds thin, their mean
bold, the legend outside the panels) and the reliability diagram."""

import csv

import numpy as np
import pytest

from reactkd.evaluate.calibration import reliability_bins
from reactkd.evaluate.figures import plot_reliability, reliability_figure
from reactkd.evaluate.training_figures import plot_training_panels, training_panels_figure
from reactkd.report.html import render_html


def _log(path, folds=3, epochs=5):
    rows = []
    for stage in ("student", "teacher"):
        for f in range(folds):
            for e in range(1, epochs + 1):
                rows.append({"stage": stage, "fold": f, "epoch": e, "lr": 1e-3, "seconds": 1.0,
                             "train_loss": 1.0 / e + f, "val_auc": 0.5 + 0.05 * e,
                             "train_loss_kd": (0.1 * e) if stage == "student" else ""})
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_training_panels_one_per_quantity_with_fold_lines_and_a_bold_mean(tmp_path):
    fig = training_panels_figure(_log(tmp_path / "log.csv"), title="Training (thin: folds)")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    # teacher first; lr and seconds are not quantities; the teacher has no kd loss
    assert [ax.get_title() for ax in axes] == ["teacher: train_loss", "teacher: val_auc", "student: train_loss",
                                               "student: val_auc", "student: train_loss_kd"]
    lines = axes[0].get_lines()
    assert len(lines) == 4  # three folds and the mean
    assert [ln.get_linewidth() for ln in lines[:3]] == [0.8] * 3 and lines[3].get_linewidth() > 2
    np.testing.assert_allclose(lines[3].get_ydata(), np.mean([ln.get_ydata() for ln in lines[:3]], 0))
    assert not any(ax.get_legend() for ax in axes) and len(fig.legends) == 1  # one legend, outside the data
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["fold 0", "fold 1", "fold 2", "mean over folds"]
    fig.canvas.draw()  # the constrained layout places the legend
    legend = fig.legends[0].get_window_extent()
    for ax in axes:
        assert not legend.overlaps(ax.get_window_extent())
    assert fig.get_suptitle() == "Training (thin: folds)" and {ax.get_xlabel() for ax in axes} == {"epoch"}
    out = plot_training_panels(tmp_path / "log.csv", tmp_path / "training.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_training_panels_refuse_a_log_without_folds(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,train_loss\n1,0.5\n")
    with pytest.raises(ValueError, match="missing columns"):
        plot_training_panels(path, tmp_path / "t.png")


def test_reliability_diagram_one_curve_and_one_bar_set_per_model():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], 200)
    y = rng.integers(0, 3, 200)
    bins = {"a": reliability_bins(p, y), "uniform": reliability_bins(np.full((200, 3), 1 / 3), y)}
    top, bottom = reliability_figure(bins, title="Reliability — students").axes
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "calibrated", f"a (ECE {bins['a'].ece:.3f})", f"uniform (ECE {bins['uniform'].ece:.3f})"]
    diagonal, a, uniform = top.get_lines()
    np.testing.assert_array_equal(diagonal.get_xydata(), [[0, 0], [1, 1]])
    used = bins["a"].count > 0
    np.testing.assert_array_equal(a.get_xdata(), bins["a"].confidence[used])
    np.testing.assert_array_equal(a.get_ydata(), bins["a"].accuracy[used])
    np.testing.assert_allclose(uniform.get_xdata(), [1 / 3])  # every case in one bin, at confidence 1/3
    bars = bottom.patches
    assert len(bars) == 2 * len(bins["a"].count)  # one bar per bin and model
    heights = np.array([b.get_height() for b in bars]).reshape(2, -1)
    np.testing.assert_allclose(heights.sum(1), 1.0)  # shares of cases
    assert top.get_title() == "Reliability — students"
    assert (top.get_ylabel(), bottom.get_xlabel(), bottom.get_ylabel()) == (
        "Accuracy (share correct)", "Confidence (top-grade probability)", "Share of cases")


def test_report_html_embeds_the_figures(tmp_path):
    rng = np.random.default_rng(0)
    bins = {"a": reliability_bins(rng.dirichlet([1, 1, 1], 50), rng.integers(0, 3, 50))}
    plot_reliability(bins, tmp_path / "rel.png")
    page = render_html("# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![rel](rel.png)\n", tmp_path, "T <x>")
    assert page.count("data:image/png;base64,") == 1 and "<table>" in page and "<title>T &lt;x&gt;</title>" in page


def test_topology_slice_is_the_most_attended_node_s_slice_with_its_attention_over_the_ct():
    import SimpleITK as sitk

    from reactkd.evaluate.topology_figure import topology_slice_figure

    rng = np.random.default_rng(0)
    hu = rng.normal(40, 80, (6, 8, 10)).astype(np.float32)  # (z, y, x)
    att = np.zeros_like(hu)
    att[4, 2:5, 3:6] = 0.7
    ct, attention = sitk.GetImageFromArray(hu), sitk.GetImageFromArray(att)
    for image in (ct, attention):
        image.SetSpacing((2.0, 2.0, 5.0))
        image.SetOrigin((-10.0, 4.0, 30.0))
    result = {"case_id": "P7", "grade": 3, "probabilities": {"1": 0.1, "2": 0.3, "3": 0.6},
              "nodes": [{"attention": 0.3, "centroid_lps_mm": [-2.0, 10.0, 35.0]},  # slice 1
                        {"attention": 0.7, "centroid_lps_mm": [-2.0, 10.0, 50.0]}]}  # slice 4: drawn
    fig = topology_slice_figure(ct, attention, result, window=(-160.0, 240.0))
    ax, bar = fig.axes
    shown_ct, overlay = ax.get_images()
    np.testing.assert_array_equal(shown_ct.get_array(), np.clip(hu[4], -160, 240))
    assert shown_ct.get_clim() == (-160.0, 240.0)
    drawn = overlay.get_array()
    np.testing.assert_array_equal(drawn.mask, att[4] <= 0)  # transparent where there is no attention
    np.testing.assert_array_equal(drawn.compressed(), att[4][att[4] > 0])
    assert bar.get_ylabel() == "node attention"
    assert ax.get_title() == "P7: grade 3 (G1 0.10, G2 0.30, G3 0.60)"
