"""Training figures from per-epoch metrics CSVs: loss and validation curves of one log, and the report's
training panels (one per stage and quantity, folds thin, their mean bold).

Each has a builder returning the :class:`matplotlib.figure.Figure` and a ``plot_*`` function saving it as a
PNG, drawn as in :mod:`reactkd.evaluate.figures` (Agg canvas, no ``pyplot``, atomic writes).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from reactkd.evaluate.figures import CYCLE, blank_figure, figure_with_axes, png_path, save_png

__all__ = ["loss_curves_figure", "plot_loss_curves", "training_panels_figure", "plot_training_panels"]


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


def loss_curves_figure(metrics_csv: str | os.PathLike, *, x: str = "epoch", loss_columns: Sequence[str] | None = None,
                       metric_columns: Sequence[str] | None = None, group_by: Sequence[str] = (),
                       title: str = "Training") -> Figure:
    """Per-epoch curves from a metrics CSV (one row per epoch): losses left, validation metrics right.

    Args:
        metrics_csv: CSV with column ``x`` and numeric columns; empty cells are skipped.
        x: x-axis column; default ``"epoch"``.
        loss_columns: default every column whose name contains ``"loss"``.
        metric_columns: default every ``val_*`` column without ``"loss"``; the right panel is drawn only if any.
        group_by: columns (e.g. ``("stage", "fold")``) splitting rows into separate lines, labelled by value.
        title: figure title.

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
    fig, axes = figure_with_axes(ncols=2 if metrics else 1)
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
                    ax.plot(xs[ok], ys[ok], marker="." if ok.sum() < 30 else None, color=CYCLE[color % len(CYCLE)],
                            label=f"{prefix} {col}".strip())
                    color += 1
    for ax, name in zip(axes, ("Loss", "Validation metric")):
        ax.set(xlabel=x, ylabel=name)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small")
    fig.suptitle(title)
    return fig


def plot_loss_curves(metrics_csv: str | os.PathLike, path: str | os.PathLike, *, x: str = "epoch",
                     loss_columns: Sequence[str] | None = None, metric_columns: Sequence[str] | None = None,
                     group_by: Sequence[str] = (), title: str = "Training", dpi: int = 150) -> Path:
    """:func:`loss_curves_figure` as a PNG at ``path``."""
    path = png_path(path)  # before drawing
    return save_png(loss_curves_figure(metrics_csv, x=x, loss_columns=loss_columns, metric_columns=metric_columns,
                                       group_by=group_by, title=title), path, dpi)


def training_panels_figure(log_csv: str | os.PathLike, *, x: str = "epoch", stage: str = "stage", fold: str = "fold",
                           skip: Sequence[str] = ("lr", "seconds"), title: str = "Training", ncols: int = 4) -> Figure:
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
    fig = blank_figure((3.2 * ncols + 1.6, 2.5 * nrows + 0.6))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (s, q) in zip(axes, panels):
        curves = {}
        for i, f in enumerate(folds):
            pts = [(_num(r[x]), _num(r[q])) for r in rows if r[stage] == s and r[fold] == f]
            pts = [(a, b) for a, b in pts if not (math.isnan(a) or math.isnan(b))]
            if pts:
                xs, ys = map(np.array, zip(*pts))
                curves[f] = dict(zip(xs.tolist(), ys.tolist()))
                ax.plot(xs, ys, lw=0.8, alpha=0.6, color=CYCLE[i % len(CYCLE)], label=f"fold {f}",
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
    return fig


def plot_training_panels(log_csv: str | os.PathLike, path: str | os.PathLike, *, x: str = "epoch",
                         stage: str = "stage", fold: str = "fold", skip: Sequence[str] = ("lr", "seconds"),
                         title: str = "Training", ncols: int = 4, dpi: int = 120) -> Path:
    """:func:`training_panels_figure` as a PNG at ``path``."""
    path = png_path(path)  # before drawing
    return save_png(training_panels_figure(log_csv, x=x, stage=stage, fold=fold, skip=skip, title=title, ncols=ncols),
                    path, dpi)
