"""The fit gap of a run's fold models: each fold teacher's and student's AUC on the patients it trained on and on
its held-out fold (``RUN/report/fit_gap.csv`` of the run report, or ``fit_gap.csv`` of a pooled folder), as a
section of the results record, and its means as facts for the claims table.

A training-set AUC far above the held-out one is memorisation: on the cases the student trains on, such a
teacher's soft labels mostly repeat the labels, so there is little for distillation to pass on.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from reactkd.evaluate.tables import Table
from reactkd.report.record_section import Section, config_name
from reactkd.report.record_stamp import Stamp
from reactkd.report.record_tables import formatted, mean_std, read_table

__all__ = ["FIT_GAP", "COLUMNS", "fit_gap_section", "fit_gap_means"]

FIT_GAP = "fit_gap.csv"
COLUMNS = {"teacher_training": "Teacher training-set AUC", "teacher_held_out": "Teacher held-out AUC",
           "student_training": "Student training-set AUC", "student_held_out": "Student held-out AUC"}
"""Facts key → the column of ``fit_gap.csv`` it is read from."""

TEXT = ("Each fold's teacher and student scored on the patients they trained on and on their held-out fold (macro "
        "one-vs-rest AUC). A training-set AUC far above the held-out one is memorisation: on the cases the student "
        "trains on, such a teacher's soft labels mostly repeat the labels.")


def fit_gap_means(table: Table) -> dict[str, tuple[float, float]]:
    """``facts key → (mean, std)`` over the folds: the ``mean ± std`` row where the table has one, else the mean
    and sample std of its fold rows. A column the table lacks is left out.

    Raises:
        ValueError: the table has no fold row and no mean row.
    """
    summary = next((r for r in table.rows if r[0].strip().lower().startswith("mean")), None)
    folds = [r for r in table.rows if r is not summary]
    if summary is None and not folds:
        raise ValueError("a fit-gap table without rows.")
    out = {}
    for key, column in COLUMNS.items():
        if column not in table.header:
            continue
        i = table.header.index(column)
        if summary is not None:
            out[key] = mean_std(summary[i])
            continue
        values = [v for v in (mean_std(r[i])[0] for r in folds) if not math.isnan(v)]
        out[key] = ((statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan)
                    if values else (math.nan, math.nan))
    return out


def fit_gap_section(path: Path, source: Path, stamp: Stamp) -> Section:
    """The section of ``path`` (a ``fit_gap.csv``) made from ``source``.

    Raises:
        ValueError: an empty table, or one without rows (its path named).
    """
    table = read_table(path)
    try:
        facts = fit_gap_means(table)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    title = f"Teachers and students: training-set vs held-out AUC ({config_name(stamp)})"
    return Section("fit_gap", title, source, stamp, [TEXT, formatted(table).to_markdown()], facts)
