"""The report figures a person reads: training panels (one per stage and quantity, folds thin, their mean
bold, the legend outside the panels) and the reliability diagram."""

import csv

import numpy as np
import pytest

from reactkd.evaluate.calibration import reliability_bins
from reactkd.evaluate.figures import plot_reliability, plot_training_panels
from reactkd.evaluate.report_html import render_html


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


def test_training_panels_one_per_quantity_with_fold_lines_and_a_bold_mean(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    saved = {}
    original = Figure.savefig

    def keep(fig, *args, **kwargs):
        saved["fig"] = fig
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    out = plot_training_panels(_log(tmp_path / "log.csv"), tmp_path / "training.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = saved["fig"]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    # teacher first; lr and seconds are not quantities; the teacher has no kd loss
    assert [ax.get_title() for ax in axes] == ["teacher: train_loss", "teacher: val_auc", "student: train_loss",
                                               "student: val_auc", "student: train_loss_kd"]
    lines = axes[0].get_lines()
    assert len(lines) == 4  # three folds and the mean
    assert [ln.get_linewidth() for ln in lines[:3]] == [0.8] * 3 and lines[3].get_linewidth() > 2
    np.testing.assert_allclose(lines[3].get_ydata(), np.mean([ln.get_ydata() for ln in lines[:3]], 0))
    assert not any(ax.get_legend() for ax in axes) and len(fig.legends) == 1  # one legend, outside the data
    legend = fig.legends[0].get_window_extent()
    for ax in axes:
        assert not legend.overlaps(ax.get_window_extent())


def test_training_panels_refuse_a_log_without_folds(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,train_loss\n1,0.5\n")
    with pytest.raises(ValueError, match="missing columns"):
        plot_training_panels(path, tmp_path / "t.png")


def test_reliability_diagram_and_embedded_html(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], 200)
    y = rng.integers(0, 3, 200)
    png = plot_reliability({"a": reliability_bins(p, y), "b": reliability_bins(np.full((200, 3), 1 / 3), y)},
                           tmp_path / "rel.png")
    page = render_html("# T\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![rel](rel.png)\n", tmp_path, "T <x>")
    assert page.count("data:image/png;base64,") == 1 and "<table>" in page and "<title>T &lt;x&gt;</title>" in page
    assert png.stat().st_size > 5000
