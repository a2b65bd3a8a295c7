"""The CSV tables the experiment commands write, read back for the results record: cells as written, and the
numbers the claims need (``"0.788 ± 0.074"`` → mean and std; a paired line → Δ, folds higher, p).

The commands write formatted cells (:func:`reactkd.evaluate.tables.format_mean_std`, :func:`reactkd.evaluate.
paired.paired_table`), so the record shows exactly the figures of their own tables.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from reactkd.evaluate.tables import Table

__all__ = ["read_table", "mean_std", "cell", "Paired", "paired_rows", "formatted", "ALPHA"]

ALPHA = 0.05
"""Significance level of a paired Wilcoxon test in the claims table (two-sided, uncorrected)."""


def read_table(path: Path) -> Table:
    """A CSV file as a :class:`Table` of strings.

    Raises:
        ValueError: the file is empty or its rows do not match its header.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if not rows:
        raise ValueError(f"{path}: an empty table.")
    try:
        return Table(tuple(rows[0]), tuple(tuple(r) for r in rows[1:]))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def cell(table: Table, row: str, column: str) -> str | None:
    """The cell of the row whose first cell is ``row`` in ``column``; None when either is missing."""
    if column not in table.header:
        return None
    i = table.header.index(column)
    return next((r[i] for r in table.rows if r[0] == row), None)


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def mean_std(text: str | None) -> tuple[float, float]:
    """``"0.788 ± 0.074"`` → ``(0.788, 0.074)``; ``"0.5"`` → ``(0.5, nan)``; ``"n/a"``, empty or None → NaNs."""
    match = re.fullmatch(rf"\s*({_NUMBER})\s*(?:±\s*({_NUMBER}))?\s*", text or "")
    if not match:
        return math.nan, math.nan
    return float(match.group(1)), float(match.group(2)) if match.group(2) else math.nan


@dataclass(frozen=True)
class Paired:
    """One line of ``paired.csv``: the row's per-fold AUC minus the reference row's, over ``n`` (seed, fold) pairs."""

    delta: float
    delta_std: float
    higher: int
    n: int
    p: float

    def lower_significantly(self, alpha: float = ALPHA) -> bool:
        """The row is below the reference on average and the paired test rejects equality at ``alpha``."""
        return self.delta < 0 and self.p < alpha

    def describe(self) -> str:
        p = "n/a" if math.isnan(self.p) else f"{self.p:.3f}"
        std = "" if math.isnan(self.delta_std) else f" ± {self.delta_std:.3f}"
        return f"Δ AUC {self.delta:+.3f}{std}, higher in {self.higher}/{self.n} folds, Wilcoxon p {p}"


def paired_rows(table: Table) -> dict[str, Paired]:
    """``row → Paired`` of a ``paired.csv`` (columns: row, Δ AUC, folds higher ``k/n``, Wilcoxon p)."""
    out = {}
    for name, delta, wins, p, *_ in table.rows:
        higher, _, n = wins.partition("/")
        d, s = mean_std(delta)
        out[name] = Paired(d, s, int(higher) if higher.isdigit() else 0, int(n) if n.isdigit() else 0,
                           mean_std(p)[0])
    return out


def formatted(table: Table, digits: int = 3) -> Table:
    """Cells that are plain decimal numbers (a raw CSV: seconds, Dice, ECE) to ``digits`` decimals; integers,
    text and ``mean ± std`` cells unchanged."""

    def one(text: str) -> str:
        if re.fullmatch(r"[-+]?\d+", text) or not re.fullmatch(_NUMBER + "|nan|NaN", text):
            return text
        value = float(text)
        return "n/a" if math.isnan(value) else f"{value:.{digits}f}"

    return Table(table.header, tuple(tuple(one(c) for c in row) for row in table.rows))
