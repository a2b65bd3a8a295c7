"""PNG figures for run reports: ROC, decision curves, t-SNE and loss curves.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, so nothing here touches
``pyplot`` or the global backend (safe inside 3D Slicer and on headless machines), and each file is written
atomically (temp file + rename). Grades use the Okabe–Ito colour-blind-safe colours.
"""

from __future__ import annotations

import csv
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

__all__ = ["GRADE_COLORS", "plot_roc", "plot_dca", "plot_tsne", "plot_loss_curves", "plot_training_panels", "plot_reliability"]

GRADE_COLORS = {1: "#0072B2", 2: "#009E73", 3: "#D55E00"}
_CYCLE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _blank_figure(figsize: tuple[float, float]):
    """A constrained-layout Figure on its own Agg canvas (no pyplot)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _figure(ncols: int = 1, size: tuple[float, float] = (5.0, 4.5)):
    fig = _blank_figure((size[0] * ncols, size[1]))
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _save(fig, path: str | os.PathLike, dpi: int) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"`path` must end in .png, got {str(path)!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.png")
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def plot_roc(curves: Mapping[str, RocCurve], path: str | os.PathLike, title: str = "One-vs-rest ROC",
             dpi: int = 150) -> Path:
    """ROC curves (e.g. :func:`reactkd.evaluate.roc.ovr_roc_curves`) with AUCs in the legend and ±1 std bands.

    Raises:
        ValueError: no curves, or ``path`` not a ``.png``.
    """
    if not curves:
        raise ValueError("`curves` must hold at least one RocCurve, got 0.")
    fig, (ax,) = _figure()
    colors = {grade_key(g): c for g, c in GRADE_COLORS.items()}
    for i, (key, c) in enumerate(curves.items()):
        color = "black" if key == MACRO else colors.get(key, _CYCLE[i % len(_CYCLE)])
        ax.plot(c.fpr, c.tpr, color=color, lw=2, ls="--" if key == MACRO else "-", label=f"{c.label} (AUC {c.auc:.3f})")
        if c.tpr_std is not None:
            ax.fill_between(c.fpr, np.clip(c.tpr - c.tpr_std, 0, 1), np.clip(c.tpr + c.tpr_std, 0, 1), color=color,
                            alpha=0.15, lw=0)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls=":", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="False positive rate", ylabel="True positive rate", title=title)
    ax.legend(loc="lower right", fontsize="small")
    return _save(fig, path, dpi)


def plot_dca(curves: Sequence[DecisionCurve] | Mapping[str, DecisionCurve], path: str | os.PathLike,
             title: str = "Decision curve analysis", ylim: tuple[float, float] | None = None, dpi: int = 150) -> Path:
    """Net benefit of several methods on one figure, with treat-all and treat-none references.

    All curves must share thresholds and prevalence (the same cases and question), so one pair of references
    serves them all. A mapping's keys replace the curves' labels.

    Args:
        curves: :class:`~reactkd.evaluate.dca.DecisionCurve` per method.
        path: output ``.png``.
        title: axes title.
        ylim: y range; default from -0.05 to a little above the largest net benefit.
        dpi: resolution; default 150.

    Raises:
        ValueError: no curves, different thresholds or prevalences, or ``path`` not a ``.png``.
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
    fig, (ax,) = _figure(size=(6.0, 4.5))
    for i, (label, c) in enumerate(items):
        # past the palette, the line style changes so that every method stays tellable apart
        style = ("-", "--", ":", "-.")[(i // len(_CYCLE)) % 4]
        ax.plot(c.thresholds, c.net_benefit, color=_CYCLE[i % len(_CYCLE)], ls=style, lw=2 if i == 0 else 1.5,
                label=label)
    ax.plot(ref.thresholds, ref.treat_all, color="grey", lw=1.5, label="treat all")
    ax.plot(ref.thresholds, ref.treat_none, color="black", lw=1.5, ls="--", label="treat none")
    top = max(ref.prevalence, *(float(np.max(c.net_benefit)) for _, c in items))
    ax.set(xlim=(float(ref.thresholds.min()), float(ref.thresholds.max())), ylim=ylim or (-0.05, top + 0.05),
           xlabel="Threshold probability", ylabel="Net benefit", title=title)
    ax.legend(loc="upper right", fontsize="x-small" if len(items) > 6 else "small")
    return _save(fig, path, dpi)


def plot_tsne(embedding: np.ndarray, grade: np.ndarray, path: str | os.PathLike, title: str = "t-SNE",
              dpi: int = 150) -> Path:
    """Scatter of a 2-D embedding ``(N, 2)`` coloured by grade ``(N,)`` in {1, 2, 3}.

    Raises:
        ValueError: shapes that do not match, grades outside 1–3, or ``path`` not a ``.png``.
    """
    e, g = np.asarray(embedding, dtype=np.float64), np.asarray(grade)
    if e.ndim != 2 or e.shape[1] != 2 or g.shape != (e.shape[0],):
        raise ValueError(f"`embedding` must be (N, 2) and `grade` (N,), got {e.shape} and {g.shape}.")
    if not np.isin(g, GRADES).all():
        raise ValueError(f"`grade` must hold grades {GRADES}, got {sorted(set(np.unique(g).tolist()) - set(GRADES))}.")
    fig, (ax,) = _figure()
    for k in GRADES:
        m = g == k
        if m.any():
            ax.scatter(e[m, 0], e[m, 1], s=28, color=GRADE_COLORS[k], edgecolor="white", lw=0.5,
                       label=f"grade {k} (n={int(m.sum())})")
    ax.set(xlabel="t-SNE 1", ylabel="t-SNE 2", title=title, xticks=[], yticks=[])
    ax.legend(fontsize="small")
    return _save(fig, path, dpi)


def _read_numeric_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise FileNotFoundError(f"metrics CSV not found: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _num(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def plot_loss_curves(metrics_csv: str | os.PathLike, path: str | os.PathLike, *, x: str = "epoch",
                     loss_columns: Sequence[str] | None = None, metric_columns: Sequence[str] | None = None,
                     group_by: Sequence[str] = (), title: str = "Training", dpi: int = 150) -> Path:
    """Per-epoch curves from a metrics CSV (one row per epoch): losses left, validation metrics right.

    Args:
        metrics_csv: CSV with column ``x`` and numeric columns; empty cells are skipped.
        path: output ``.png``.
        x: x-axis column; default ``"epoch"``.
        loss_columns: default every column whose name contains ``"loss"``.
        metric_columns: default every ``val_*`` column without ``"loss"``; the right panel is drawn only if any.
        group_by: columns (e.g. ``("stage", "fold")``) splitting rows into separate lines, labelled by value.
        title: figure title.
        dpi: resolution; default 150.

    Raises:
        FileNotFoundError: ``metrics_csv`` missing.
        ValueError: missing columns, nothing to plot, or ``x`` not increasing within a group.
    """
    header, rows = _read_numeric_csv(Path(metrics_csv))
    losses = list(loss_columns) if loss_columns is not None else [c for c in header if "loss" in c.lower()]
    metrics = list(metric_columns) if metric_columns is not None else [
        c for c in header if c.lower().startswith("val_") and "loss" not in c.lower()]
    missing = [c for c in (x, *group_by, *losses, *metrics) if c not in header]
    if missing:
        raise ValueError(f"{metrics_csv}: missing columns {missing}; found {header}.")
    if not rows or not (losses or metrics):
        raise ValueError(f"{metrics_csv}: nothing to plot (rows={len(rows)}, loss or val_* columns: none).")
    groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[c] for c in group_by), []).append(r)
    fig, axes = _figure(ncols=2 if metrics else 1)
    color = 0
    for key, grp in groups.items():
        xs = np.array([_num(r[x]) for r in grp])
        if np.any(np.diff(xs) <= 0):
            raise ValueError(f"{metrics_csv}: `{x}` is not increasing within group {key or 'all rows'}; "
                             f"pass `group_by` (e.g. ('stage', 'fold')).")
        prefix = " ".join(f"{c}={v}" for c, v in zip(group_by, key))
        for ax, cols in zip(axes, (losses, metrics) if metrics else (losses,)):
            for col in cols:
                ys = np.array([_num(r[col]) for r in grp])
                ok = ~np.isnan(ys)
                if ok.any():
                    ax.plot(xs[ok], ys[ok], marker="." if ok.sum() < 30 else None, color=_CYCLE[color % len(_CYCLE)],
                            label=f"{prefix} {col}".strip())
                    color += 1
    for ax, name in zip(axes, ("Loss", "Validation metric")):
        ax.set(xlabel=x, ylabel=name)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small")
    fig.suptitle(title)
    return _save(fig, path, dpi)


def plot_training_panels(log_csv: str | os.PathLike, path: str | os.PathLike, *, x: str = "epoch",
                         stage: str = "stage", fold: str = "fold", skip: Sequence[str] = ("lr", "seconds"),
                         title: str = "Training", ncols: int = 4, dpi: int = 120) -> Path:
    """Training curves a person can read: one panel per (stage, quantity), each fold a thin line and the
    mean over folds (epoch by epoch, where every fold has it) bold; one legend beside the panels.

    Args:
        log_csv: the report's ``training_log.csv`` (columns ``stage``, ``fold``, ``x`` and numeric ones).
        skip: columns that are not training quantities (default learning rate and seconds).

    Raises:
        FileNotFoundError: ``log_csv`` missing.
        ValueError: missing ``x``/``stage``/``fold`` columns or nothing numeric to plot.
    """
    header, rows = _read_numeric_csv(Path(log_csv))
    missing = [c for c in (x, stage, fold) if c not in header]
    if missing:
        raise ValueError(f"{log_csv}: missing columns {missing}; found {header}.")
    quantities = [c for c in header if c not in (x, stage, fold, *skip)]
    panels = []
    # stage 1 (teachers) before stage 2 (the student), whatever order the CSV holds them in
    for s in sorted(dict.fromkeys(r[stage] for r in rows), key=lambda name: (not name.startswith("teacher"), name)):
        for q in quantities:
            if any(not math.isnan(_num(r[q])) for r in rows if r[stage] == s):
                panels.append((s, q))
    if not panels:
        raise ValueError(f"{log_csv}: nothing to plot (no numeric quantity besides {x}, {stage}, {fold}).")
    folds = list(dict.fromkeys(r[fold] for r in rows))
    ncols = min(ncols, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = _blank_figure((3.2 * ncols + 1.6, 2.5 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (s, q) in zip(axes, panels):
        curves = {}
        for i, f in enumerate(folds):
            pts = [(_num(r[x]), _num(r[q])) for r in rows if r[stage] == s and r[fold] == f]
            pts = [(a, b) for a, b in pts if not (math.isnan(a) or math.isnan(b))]
            if pts:
                xs, ys = map(np.array, zip(*pts))
                curves[f] = dict(zip(xs.tolist(), ys.tolist()))
                ax.plot(xs, ys, lw=0.8, alpha=0.6, color=_CYCLE[i % len(_CYCLE)], label=f"fold {f}",
                        marker="." if len(xs) <= 20 else None)
        common = sorted(set.intersection(*(set(c) for c in curves.values()))) if curves else []
        if len(curves) > 1 and common:
            ax.plot(common, [np.mean([c[e] for c in curves.values()]) for e in common], lw=2.4, color="black",
                    label="mean over folds", marker="o" if len(common) <= 20 else None, ms=3)
        ax.set_title(f"{s}: {q}", fontsize="small")
        ax.set_xlabel(x, fontsize="small")
        ax.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole numbers
        ax.tick_params(labelsize="x-small")
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize="small", frameon=False)
    fig.suptitle(title)
    return _save(fig, path, dpi)


def plot_reliability(bins: Mapping[str, object], path: str | os.PathLike, title: str = "Reliability diagram",
                     dpi: int = 150) -> Path:
    """Reliability diagram: accuracy against confidence per bin for each labelled
    :class:`~reactkd.evaluate.calibration.ReliabilityBins` (ECE in the legend), the diagonal for a
    calibrated model, and the share of cases per bin below.

    Raises:
        ValueError: no bins, or ``path`` not a ``.png``.
    """
    if not bins:
        raise ValueError("`bins` must hold at least one ReliabilityBins, got 0.")
    fig = _blank_figure((5.0, 5.6))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="calibrated")
    width = 1.0 / len(next(iter(bins.values())).count)
    for i, (label, b) in enumerate(bins.items()):
        centers = (b.edges[:-1] + b.edges[1:]) / 2
        used = b.count > 0
        color = _CYCLE[i % len(_CYCLE)]
        top.plot(b.confidence[used], b.accuracy[used], marker="o", color=color, lw=1.5,
                 label=f"{label} (ECE {b.ece:.3f})")
        offset = (i - (len(bins) - 1) / 2) * width / len(bins)
        bottom.bar(centers + offset, b.count / b.count.sum(), width=width / len(bins), color=color, alpha=0.7)
    top.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="Accuracy (share correct)", title=title)
    top.legend(loc="upper left", fontsize="small")
    bottom.set(xlabel="Confidence (top-grade probability)", ylabel="Share of cases")
    return _save(fig, path, dpi)
