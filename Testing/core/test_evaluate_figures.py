"""Report figures are real PNG files; bad inputs are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from reactkd.evaluate.dca import GradeQuestion, grade_decision_curve  # noqa: E402
from reactkd.evaluate.figures import plot_dca, plot_loss_curves, plot_roc, plot_tsne  # noqa: E402
from reactkd.evaluate.roc import ovr_roc_curves  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path, min_kb: float = 10.0) -> bool:
    return path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > min_kb * 1024


@pytest.fixture(scope="module")
def cohort():
    rng = np.random.default_rng(0)
    g = rng.integers(1, 4, 45)
    z = rng.normal(size=(45, 3))
    z[np.arange(45), g - 1] += 1.5
    return g, np.exp(z) / np.exp(z).sum(1, keepdims=True)


def test_roc_and_tsne_png(tmp_path, cohort):
    g, p = cohort
    assert _is_png(plot_roc(ovr_roc_curves(g, p), tmp_path / "roc.png"))
    assert _is_png(plot_tsne(np.random.default_rng(1).normal(size=(45, 2)), g, tmp_path / "tsne.png"))
    assert sorted(f.name for f in tmp_path.iterdir()) == ["roc.png", "tsne.png"]  # no temp files left


def test_dca_several_methods_on_one_figure(tmp_path, cohort):
    g, p = cohort
    noisy = 0.5 * p + 0.5 / 3
    curves = {"REACT-KD": grade_decision_curve(g, p, GradeQuestion.HIGH_GRADE),
              "KD": grade_decision_curve(g, noisy, GradeQuestion.HIGH_GRADE)}
    assert _is_png(plot_dca(curves, tmp_path / "dca.png", title=GradeQuestion.HIGH_GRADE.title))
    other = grade_decision_curve(g[:30], p[:30])
    with pytest.raises(ValueError, match="'x' .* were not evaluated on the same cases"):
        plot_dca({"a": curves["KD"], "x": other}, tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"`path` must end in .png, got '.*dca.pdf'"):
        plot_dca(curves, tmp_path / "dca.pdf")


def test_loss_curves(tmp_path):
    csv_path = tmp_path / "metrics.csv"
    lines = ["stage,epoch,train_loss,val_loss,val_auc"]
    lines += [f"{s},{e},{1 / (e + 1)},{1.2 / (e + 1)},{'' if e % 2 else 0.5 + e / 40}" for s in (1, 2) for e in range(8)]
    csv_path.write_text("\n".join(lines) + "\n")
    assert _is_png(plot_loss_curves(csv_path, tmp_path / "loss.png", group_by=("stage",)))
    with pytest.raises(ValueError, match=r"`epoch` is not increasing within group all rows; pass `group_by`"):
        plot_loss_curves(csv_path, tmp_path / "l2.png")
    with pytest.raises(ValueError, match=r"missing columns \['fold'\]"):
        plot_loss_curves(csv_path, tmp_path / "l3.png", group_by=("fold",))
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        plot_loss_curves(tmp_path / "nope.csv", tmp_path / "l4.png")


def test_tsne_plot_rejects_bad_grades(tmp_path):
    with pytest.raises(ValueError, match=r"`grade` must hold grades \(1, 2, 3\), got \[0\]"):
        plot_tsne(np.zeros((3, 2)), np.array([0, 1, 2]), tmp_path / "t.png")
    with pytest.raises(ValueError, match=r"`embedding` must be \(N, 2\) and `grade` \(N,\), got \(3, 3\)"):
        plot_tsne(np.zeros((3, 3)), np.array([1, 1, 2]), tmp_path / "t.png")
