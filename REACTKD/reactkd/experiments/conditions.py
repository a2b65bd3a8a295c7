"""Tables III and IV: a trained run re-evaluated with a modality withheld, or at simulated dose levels.

Each condition is one :func:`reactkd.evaluate.run_eval.evaluate_run` (kept under ``RUN/eval/<tag>/`` and
skipped when already there); the table, in the paper's layout (mean ± std over folds), goes to
``RUN/tables/`` as markdown and CSV and the run report links it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from reactkd.evaluate.tables import Table

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


def _condition(run: Path, manifest: str | None, dose: str | None, withhold: str | None):
    from reactkd.evaluate.metrics import evaluate_folds
    from reactkd.evaluate.predictions import read_run_predictions
    from reactkd.evaluate.run_eval import eval_tag, evaluate_run

    out = run / "eval" / eval_tag(manifest, dose, withhold)
    n_folds = len(list(run.glob("fold*/student/best.pt")))
    if not ((out / "summary.csv").is_file() and len(list(out.glob("fold*/predictions.csv"))) == n_folds):
        out = evaluate_run(run, manifest, dose, withhold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate_folds(read_run_predictions(out))[1]


def _write(run: Path, name: str, title: str, summaries: dict, row_title: str) -> Path:
    from reactkd.evaluate.tables import summary_table

    folder = run / TABLES_DIR
    table: Table = summary_table(summaries, row_title=row_title)
    table.to_csv(folder / f"{name}.csv")
    summary_table(summaries, row_title=row_title, numeric=True).to_csv(folder / f"{name}_numeric.csv")
    path = folder / f"{name}.md"
    path.write_text(f"# {title}\n\n{table.to_markdown()}\n", encoding="utf-8")
    return path


def robustness_table(run: str | Path, manifest: str | None = None) -> Path:
    """Table III: the run's students with both modalities, PET only and CT only; returns the markdown path."""
    run = Path(run)
    summaries = {label: _condition(run, manifest, None, w) for label, w in MODALITY_CONDITIONS}
    return _write(run, "table3_missing_modality", "Missing modality (Table III): students, mean ± std over folds",
                  summaries, "Inputs")


def dose_table(run: str | Path, manifest: str | None = None) -> Path:
    """Table IV: the run's students at native, mild, severe and mixed dose; returns the markdown path."""
    run = Path(run)
    suffix = f" on {Path(manifest).name}" if manifest else ""
    summaries = {label: _condition(run, manifest, d, None) for label, d in DOSE_CONDITIONS}
    return _write(run, "table4_dose" + (f"_{Path(manifest).stem}" if manifest else ""),
                  f"Dose degradation (Table IV){suffix}: students, mean ± std over folds", summaries, "CT dose")
