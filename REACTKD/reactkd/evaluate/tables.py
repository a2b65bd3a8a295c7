"""Result tables in the paper's layout (one row per method, "0.812 ± 0.034" cells) as markdown and CSV.

Cells are formatted by :func:`format_mean_std`: ``digits`` decimals for both numbers, the std alone
omitted when it is NaN (one fold), and ``"n/a"`` when the mean is NaN (e.g. AUC undefined in every fold).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from reactkd.evaluate.metrics import MeanStd

__all__ = [
    "METRIC_LABELS",
    "PAPER_METRICS",
    "Table",
    "format_mean_std",
    "summary_table",
    "fold_table",
]

METRIC_LABELS = {"accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "precision": "Precision",
                 "recall": "Recall", "f1": "F1", "auc": "AUC", "support": "Support"}
PAPER_METRICS = ("accuracy", "precision", "recall", "f1", "auc")
"""The paper's columns, in its order."""


@dataclass(frozen=True)
class Table:
    """A rectangular table of strings.

    Attributes:
        header: column titles, length ``C``.
        rows: each of length ``C``.
    """

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        bad = [i for i, r in enumerate(self.rows) if len(r) != len(self.header)]
        if bad:
            raise ValueError(f"`rows` {bad} do not have {len(self.header)} cells like `header` {self.header}.")

    def to_markdown(self) -> str:
        """GitHub-flavoured markdown: first column left-aligned, others right-aligned; ``|`` escaped."""
        esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(map(esc, self.header)) + " |",
                 "|" + "|".join([":---"] + ["---:"] * (len(self.header) - 1)) + "|"]
        lines += ["| " + " | ".join(map(esc, r)) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write UTF-8 CSV atomically (temp file + rename); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                csv.writer(fh).writerows([self.header, *self.rows])
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def write_markdown(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_markdown` to ``path``; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_markdown(), encoding="utf-8")
        return path


def _check_digits(digits: int) -> None:
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 12:
        raise ValueError(f"`digits` must be an integer in [0, 12], got {digits!r}.")


def format_mean_std(mean: float, std: float = math.nan, digits: int = 3) -> str:
    """``"0.812 ± 0.034"``; ``"0.812"`` when ``std`` is NaN; ``"n/a"`` when ``mean`` is NaN.

    Raises:
        ValueError: ``digits`` not an integer in [0, 12].
    """
    _check_digits(digits)
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if math.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _metric_columns(metrics: Sequence[str]) -> list[str]:
    unknown = [m for m in metrics if m not in METRIC_LABELS]
    if unknown or not metrics:
        raise ValueError(f"`metrics` must be a non-empty subset of {list(METRIC_LABELS)}, got {list(metrics)}.")
    return [METRIC_LABELS[m] for m in metrics]


def summary_table(summaries: Mapping[str, Mapping[str, MeanStd]], metrics: Sequence[str] = PAPER_METRICS,
                  digits: int = 3, row_title: str = "Method", *, numeric: bool = False) -> Table:
    """One row per method with mean ± std over folds (the paper's main table).

    Args:
        summaries: ``{method: {metric: MeanStd}}``, e.g. from :func:`reactkd.evaluate.metrics.aggregate_folds`.
        metrics: columns, in order; default :data:`PAPER_METRICS`.
        digits: decimals; default 3.
        row_title: title of the first column; default ``"Method"``.
        numeric: instead of formatted cells, give ``<metric>_mean``, ``<metric>_std``, ``<metric>_n`` columns
            with full-precision numbers (for machines).

    Raises:
        ValueError: an unknown metric, or a method lacking one.
    """
    _check_digits(digits)
    labels = _metric_columns(metrics)
    rows = []
    for method, summary in summaries.items():
        missing = [m for m in metrics if m not in summary]
        if missing:
            raise ValueError(f"method {method!r} lacks metrics {missing}; has {list(summary)}.")
        if numeric:
            rows.append((method, *(repr(float(v)) for m in metrics for v in summary[m][:2]),
                         *(str(summary[m].n) for m in metrics)))
        else:
            rows.append((method, *(format_mean_std(summary[m].mean, summary[m].std, digits) for m in metrics)))
    if numeric:
        header = (row_title, *(f"{m}_{s}" for m in metrics for s in ("mean", "std")), *(f"{m}_n" for m in metrics))
        return Table(header, tuple(rows))
    return Table((row_title, *labels), tuple(rows))


def fold_table(per_fold: Sequence[Mapping[str, float]], summary: Mapping[str, MeanStd] | None = None,
               metrics: Sequence[str] = PAPER_METRICS, digits: int = 3,
               fold_names: Sequence[str] | None = None) -> Table:
    """One row per fold, plus a last ``"mean ± std"`` row when ``summary`` is given.

    Raises:
        ValueError: an unknown or missing metric, or ``fold_names`` of the wrong length.
    """
    _check_digits(digits)
    labels = _metric_columns(metrics)
    names = list(fold_names) if fold_names is not None else [f"fold {i}" for i in range(len(per_fold))]
    if len(names) != len(per_fold):
        raise ValueError(f"`fold_names` has {len(names)} names for {len(per_fold)} folds.")
    for name, fold in zip(names, per_fold):
        missing = [m for m in metrics if m not in fold]
        if missing:
            raise ValueError(f"{name} lacks metrics {missing}; has {list(fold)}.")
    rows = [(name, *(format_mean_std(float(f[m]), digits=digits) for m in metrics)) for name, f in zip(names, per_fold)]
    if summary is not None:
        rows.append(("mean ± std", *(format_mean_std(summary[m].mean, summary[m].std, digits) for m in metrics)))
    return Table(("Fold", *labels), tuple(rows))
