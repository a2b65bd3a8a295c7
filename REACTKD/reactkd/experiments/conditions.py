"""Tables III and IV: a trained run re-evaluated with a modality withheld, or at simulated dose levels.

Each condition is one :func:`reactkd.evaluate.run_eval.evaluate_run` (kept under ``RUN/eval/<tag>/`` and
skipped when already there); the table, in the paper's layout (mean ± std over folds), goes to
``RUN/tables/`` as markdown and CSV and the run report links it. Given several runs (the seeds of one
row of ``reactkd compare``), the table pools every fold of every run and goes to ``out``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from reactkd.evaluate.metrics import aggregate_folds, evaluate_folds
from reactkd.evaluate.oracle import oracle_rows
from reactkd.evaluate.predictions import read_run_predictions
from reactkd.evaluate.run_eval import eval_tag, evaluate_run
from reactkd.evaluate.tables import Table, summary_table

__all__ = ["robustness_table", "dose_table", "MODALITY_CONDITIONS", "DOSE_CONDITIONS", "TABLES_DIR"]

TABLES_DIR = "tables"

MODALITY_CONDITIONS: list[tuple[str, str | None]] = [
    ("PET + CT", None),
    ("PET only (CT withheld)", "ct"),
    ("CT only (PET withheld)", "pet"),
]
"""Table III rows: label → modality declared missing at inference."""

DOSE_CONDITIONS: list[tuple[str, str | None]] = [
    ("native", None),
    ("mild (50 % dose)", "mild"),
    ("severe (25 % dose)", "severe"),
    ("mixed", "mixed"),
]
"""Table IV rows: label → dose level of :mod:`reactkd.dose` (the student's CT is simulated at that dose)."""


def _condition(runs: list[Path], manifest: str | None, dose: str | None, withhold: str | None):
    """Summary (mean ± std over every fold of every run) of the runs' students under one condition."""

    per_fold = []
    for run in runs:
        out = run / "eval" / eval_tag(manifest, dose, withhold)
        n_folds = len(list(run.glob("fold*/student/best.pt")))
        if not ((out / "summary.csv").is_file() and len(list(out.glob("fold*/predictions.csv"))) == n_folds):
            out = evaluate_run(run, manifest, dose, withhold)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_fold += evaluate_folds(read_run_predictions(out))[0]
    return aggregate_folds(per_fold)


def _runs_and_folder(run: str | Path | list, out: str | Path | None) -> tuple[list[Path], Path]:
    runs = [Path(r) for r in run] if isinstance(run, (list, tuple)) else [Path(run)]
    if not runs:
        raise ValueError("give at least one run folder.")
    missing = [str(r) for r in runs if not r.is_dir()]
    if missing:
        raise FileNotFoundError(f"run folder(s) not found: {missing}")
    if out is None and len(runs) > 1:
        raise ValueError("several runs are pooled into one table: say where it goes (--out).")
    return runs, Path(out) if out is not None else runs[0] / TABLES_DIR


def _write(folder: Path, name: str, title: str, summaries: dict, row_title: str) -> Path:

    table: Table = summary_table(summaries, row_title=row_title)
    table.to_csv(folder / f"{name}.csv")
    summary_table(summaries, row_title=row_title, numeric=True).to_csv(folder / f"{name}_numeric.csv")
    path = folder / f"{name}.md"
    path.write_text(f"# {title}\n\n{table.to_markdown()}\n", encoding="utf-8")
    return path


def _over(runs: list[Path]) -> str:
    return "folds" if len(runs) == 1 else f"every fold of {len(runs)} runs"


def robustness_table(run: str | Path | list, manifest: str | None = None, out: str | Path | None = None) -> Path:
    """Table III: the students of ``run`` (one run folder, or several pooled into ``out``) with both
    modalities, PET only and CT only; returns the markdown path. On the phantom (and its own cohort, no
    ``manifest``) the trait-oracle rows follow (:mod:`reactkd.evaluate.oracle`): ``(CT)`` against CT only,
    ``(PET)`` against PET only, ``(all)`` against PET + CT.

    Raises:
        FileNotFoundError: a run folder is missing. ValueError: several runs and no ``out``.
    """
    runs, folder = _runs_and_folder(run, out)
    summaries = {label: _condition(runs, manifest, None, w) for label, w in MODALITY_CONDITIONS}
    if manifest is None:
        summaries.update(oracle_rows(runs))
    return _write(folder, "table3_missing_modality",
                  f"Missing modality (Table III): students, mean ± std over {_over(runs)}", summaries, "Inputs")


def dose_table(run: str | Path | list, manifest: str | None = None, out: str | Path | None = None) -> Path:
    """Table IV: the students of ``run`` (one or several, as :func:`robustness_table`) at native, mild,
    severe and mixed dose; returns the markdown path."""
    runs, folder = _runs_and_folder(run, out)
    suffix = f" on {Path(manifest).name}" if manifest else ""
    summaries = {label: _condition(runs, manifest, d, None) for label, d in DOSE_CONDITIONS}
    return _write(folder, "table4_dose" + (f"_{Path(manifest).stem}" if manifest else ""),
                  f"Dose degradation (Table IV){suffix}: students, mean ± std over {_over(runs)}", summaries, "CT dose")
