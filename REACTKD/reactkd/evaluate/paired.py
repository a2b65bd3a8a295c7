"""Paired comparison of table rows trained on the same folds and seeds (beside Tables I and II).

The rows of ``reactkd compare`` and ``reactkd ablate`` share patients, folds and seeds, so one fold's
metric in two rows is a pair. The fold-to-fold spread (±0.1 AUC with ~23 test cases per fold) is mostly
shared by the two rows and cancels in the difference, so a paired view shows what "mean ± std" over folds
hides. For each row against the reference row (the first, REACT-KD): mean ± std of the per-fold
difference, in how many folds the row is higher, and the two-sided Wilcoxon signed-rank p-value
(``scipy.stats.wilcoxon``; Wilcoxon 1945), uncorrected for the number of rows compared.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np
from scipy.stats import wilcoxon

from reactkd.evaluate.tables import Table, format_mean_std

__all__ = ["paired_table"]


def paired_table(per_fold: Mapping[str, Mapping[tuple, float]], reference: str | None = None,
                 metric: str = "AUC", row_title: str = "Method") -> Table:
    """``per_fold[row][(seed, fold)] = value`` → one line per other row: Δ vs ``reference``, wins, n, p.

    Pairs are the (seed, fold) keys both rows have; folds where either value is NaN are left out.
    ``reference`` defaults to the first row.

    Raises:
        ValueError: no rows, or ``reference`` is not a row.
    """

    rows = list(per_fold)
    if not rows:
        raise ValueError("`per_fold` has no rows.")
    reference = rows[0] if reference is None else reference
    if reference not in per_fold:
        raise ValueError(f"`reference` {reference!r} is not one of the rows {rows}.")
    ref = per_fold[reference]
    lines = []
    for row in rows:
        if row == reference:
            continue
        keys = sorted(k for k in per_fold[row] if k in ref
                      and not (math.isnan(per_fold[row][k]) or math.isnan(ref[k])))
        d = np.array([per_fold[row][k] - ref[k] for k in keys])
        if len(d) == 0:
            lines.append((row, "n/a", "0/0", "n/a"))
            continue
        std = float(d.std(ddof=1)) if len(d) > 1 else math.nan
        p = math.nan
        if len(d) > 1 and np.any(d != 0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # scipy warns about ties and small n; the p-value says enough
                p = float(wilcoxon(d).pvalue)
        lines.append((row, format_mean_std(float(d.mean()), std), f"{int((d > 0).sum())}/{len(d)}",
                      "n/a" if math.isnan(p) else f"{p:.3f}"))
    return Table((row_title, f"Δ {metric} vs {reference}", f"folds higher than {reference}", "Wilcoxon p"),
                 tuple(lines))
