"""Figures for run reports: ROC, decision curves, t-SNE and the reliability diagram.

Each figure has a builder that returns the :class:`matplotlib.figure.Figure` (``roc_figure`` …), so what is
drawn can be read back from its axes, and a ``plot_*`` function that saves it as a PNG. Figures are drawn on
a bare ``Figure`` with the Agg canvas, so nothing here touches ``pyplot`` or the global backend (safe inside
3D Slicer and on headless machines), and each file is written atomically (temp file + rename). Grades use
the Okabe–Ito colour-blind-safe colours.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reactkd import GRADES
from reactkd.evaluate.dca import DecisionCurve
from reactkd.evaluate.roc import MACRO, RocCurve, grade_key

__all__ = ["GRADE_COLORS", "CYCLE", "roc_figure", "plot_roc", "dca_figure", "plot_dca", "tsne_figure", "plot_tsne",
           "reliability_figure", "plot_reliability", "blank_figure", "figure_with_axes", "png_path", "save_png"]

GRADE_COLORS = {1: "#0072B2", 2: "#009E73", 3: "#D55E00"}
CYCLE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def blank_figure(figsize: tuple[float, float]) -> Figure:
    """A constrained-layout Figure on its own Agg canvas (no pyplot)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_with_axes(ncols: int = 1, size: tuple[float, float] = (5.0, 4.5)):
    """``(fig, [ax, …])``: ``ncols`` axes side by side, each ``size`` inches."""
    fig = blank_figure((size[0] * ncols, size[1]))
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def png_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, checked to end in ``.png`` (before anything is drawn)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"`path` must end in .png, got {str(path)!r}.")
    return path


def save_png(fig: Figure, path: str | os.PathLike, dpi: int) -> Path:
    """Write ``fig`` to ``path`` (a ``.png``) atomically; returns the path."""
    path = png_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def roc_figure(curves: Mapping[str, RocCurve], title: str = "One-vs-rest ROC") -> Figure:
    """ROC curves (e.g. :func:`reactkd.evaluate.roc.ovr_roc_curves`) with AUCs in the legend and ±1 std bands.

    Raises:
        ValueError: no curves.
    """
    if not curves:
        raise ValueError("`curves` must hold at least one RocCurve, got 0.")
    fig, (ax,) = figure_with_axes()
    colors = {grade_key(g): c for g, c in GRADE_COLORS.items()}
    for i, (key, c) in enumerate(curves.items()):
        color = "black" if key == MACRO else colors.get(key, CYCLE[i % len(CYCLE)])
        ax.plot(c.fpr, c.tpr, color=color, lw=2, ls="--" if key == MACRO else "-", label=f"{c.label} (AUC {c.auc:.3f})")
        if c.tpr_std is not None:
            ax.fill_between(c.fpr, np.clip(c.tpr - c.tpr_std, 0, 1), np.clip(c.tpr + c.tpr_std, 0, 1), color=color,
                            alpha=0.15, lw=0)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="False positive rate", ylabel="True positive rate", title=title)
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_roc(curves: Mapping[str, RocCurve], path: str | os.PathLike, title: str = "One-vs-rest ROC",
             dpi: int = 150) -> Path:
    """:func:`roc_figure` as a PNG at ``path``."""
    path = png_path(path)  # before drawing
    return save_png(roc_figure(curves, title), path, dpi)


def dca_figure(curves: Sequence[DecisionCurve] | Mapping[str, DecisionCurve], title: str = "Decision curve analysis",
               ylim: tuple[float, float] | None = None) -> Figure:
    """Net benefit of several methods on one figure, with treat-all and treat-none references.

    All curves must share thresholds and prevalence (the same cases and question), so one pair of references
    serves them all. A mapping's keys replace the curves' labels.

    Args:
        curves: :class:`~reactkd.evaluate.dca.DecisionCurve` per method.
        title: axes title.
        ylim: y range; default from -0.05 to a little above the largest net benefit.

    Raises:
        ValueError: no curves, or different thresholds or prevalences.
    """
    items = list(curves.items()) if isinstance(curves, Mapping) else [(c.label, c) for c in curves]
    if not items:
        raise ValueError("`curves` must hold at least one DecisionCurve, got 0.")
    ref = items[0][1]
    for label, c in items[1:]:
        if c.thresholds.shape != ref.thresholds.shape or not np.allclose(c.thresholds, ref.thresholds):
            raise ValueError(f"curve {label!r} has thresholds different from {items[0][0]!r}; use the same thresholds.")
        if not math.isclose(c.prevalence, ref.prevalence) or c.n != ref.n:
            raise ValueError(f"curve {label!r} (n={c.n}, prevalence {c.prevalence:.4f}) and {items[0][0]!r} "
                             f"(n={ref.n}, prevalence {ref.prevalence:.4f}) were not evaluated on the same cases.")
    fig, (ax,) = figure_with_axes(size=(6.0, 4.5))
    for i, (label, c) in enumerate(items):
        # past the palette, the line style changes so that every method stays tellable apart
        style = ("-", "--", ":", "-.")[(i // len(CYCLE)) % 4]
        ax.plot(c.thresholds, c.net_benefit, color=CYCLE[i % len(CYCLE)], ls=style, lw=2 if i == 0 else 1.5,
                label=label)
    ax.plot(ref.thresholds, ref.treat_all, color="grey", lw=1.5, label="treat all")
    ax.plot(ref.thresholds, ref.treat_none, color="black", lw=1.5, ls="--", label="treat none")
    top = max(ref.prevalence, *(float(np.max(c.net_benefit)) for _, c in items))
    ax.set(xlim=(float(ref.thresholds.min()), float(ref.thresholds.max())), ylim=ylim or (-0.05, top + 0.05),
           xlabel="Threshold probability", ylabel="Net benefit", title=title)
    ax.legend(loc="upper right", fontsize="x-small" if len(items) > 6 else "small")
    return fig


def plot_dca(curves: Sequence[DecisionCurve] | Mapping[str, DecisionCurve], path: str | os.PathLike,
             title: str = "Decision curve analysis", ylim: tuple[float, float] | None = None, dpi: int = 150) -> Path:
    """:func:`dca_figure` as a PNG at ``path`` (``dpi`` default 150)."""
    path = png_path(path)  # before drawing
    return save_png(dca_figure(curves, title, ylim), path, dpi)


def tsne_figure(embedding: np.ndarray, grade: np.ndarray, title: str = "t-SNE") -> Figure:
    """Scatter of a 2-D embedding ``(N, 2)`` coloured by grade ``(N,)`` in {1, 2, 3}, one series per grade.

    Raises:
        ValueError: shapes that do not match, or grades outside 1–3.
    """
    e, g = np.asarray(embedding, dtype=np.float64), np.asarray(grade)
    if e.ndim != 2 or e.shape[1] != 2 or g.shape != (e.shape[0],):
        raise ValueError(f"`embedding` must be (N, 2) and `grade` (N,), got {e.shape} and {g.shape}.")
    if not np.isin(g, GRADES).all():
        raise ValueError(f"`grade` must hold grades {GRADES}, got {sorted(set(np.unique(g).tolist()) - set(GRADES))}.")
    fig, (ax,) = figure_with_axes()
    for k in GRADES:
        m = g == k
        if m.any():
            ax.scatter(e[m, 0], e[m, 1], s=28, color=GRADE_COLORS[k], edgecolor="white", lw=0.5,
                       label=f"grade {k} (n={int(m.sum())})")
    ax.set(xlabel="t-SNE 1", ylabel="t-SNE 2", title=title, xticks=[], yticks=[])
    ax.legend(fontsize="small")
    return fig


def plot_tsne(embedding: np.ndarray, grade: np.ndarray, path: str | os.PathLike, title: str = "t-SNE",
              dpi: int = 150) -> Path:
    """:func:`tsne_figure` as a PNG at ``path``."""
    path = png_path(path)  # before drawing
    return save_png(tsne_figure(embedding, grade, title), path, dpi)


def reliability_figure(bins: Mapping[str, object], title: str = "Reliability diagram") -> Figure:
    """Reliability diagram: accuracy against confidence per bin for each labelled
    :class:`~reactkd.evaluate.calibration.ReliabilityBins` (ECE in the legend), the diagonal for a
    calibrated model, and the share of cases per bin below.

    Raises:
        ValueError: no bins.
    """
    if not bins:
        raise ValueError("`bins` must hold at least one ReliabilityBins, got 0.")
    fig = blank_figure((5.0, 5.6))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="calibrated")
    width = 1.0 / len(next(iter(bins.values())).count)
    for i, (label, b) in enumerate(bins.items()):
        centers = (b.edges[:-1] + b.edges[1:]) / 2
        used = b.count > 0
        color = CYCLE[i % len(CYCLE)]
        top.plot(b.confidence[used], b.accuracy[used], marker="o", color=color, lw=1.5,
                 label=f"{label} (ECE {b.ece:.3f})")
        offset = (i - (len(bins) - 1) / 2) * width / len(bins)
        bottom.bar(centers + offset, b.count / b.count.sum(), width=width / len(bins), color=color, alpha=0.7)
    top.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="Accuracy (share correct)", title=title)
    top.legend(loc="upper left", fontsize="small")
    bottom.set(xlabel="Confidence (top-grade probability)", ylabel="Share of cases")
    return fig


def plot_reliability(bins: Mapping[str, object], path: str | os.PathLike, title: str = "Reliability diagram",
                     dpi: int = 150) -> Path:
    """:func:`reliability_figure` as a PNG at ``path``."""
    path = png_path(path)  # before drawing
    return save_png(reliability_figure(bins, title), path, dpi)
