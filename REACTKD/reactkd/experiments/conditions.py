"""Tables III and IV: a trained run re-evaluated with a modality withheld, or at simulated dose levels.

Each condition is one :func:`reactkd.inference.run_eval.evaluate_run` (kept under ``RUN/eval/<tag>/`` and
skipped when already there); the table, in the paper's layout (mean ± std over folds), goes to
``RUN/tables/`` as markdown and CSV and the run report links it. Given several runs (the seeds of one
row of ``reactkd compare``), the table pools every fold of every run and goes to ``out``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from reactkd.config.run_dir import read_run_info
from reactkd.dose.levels import DoseLevel
from reactkd.evaluate.metrics import aggregate_folds, evaluate_folds
from reactkd.evaluate.predictions import read_run_predictions
from reactkd.evaluate.tables import Table, format_mean_std, summary_table
from reactkd.inference.run_eval import eval_tag, evaluate_run, read_noise
from reactkd.phantom.oracle import oracle_rows

__all__ = ["robustness_table", "dose_table", "MODALITY_CONDITIONS", "DOSE_CONDITIONS", "DOSE_RESPONSE", "TABLES_DIR"]

TABLES_DIR = "tables"

MODALITY_CONDITIONS: list[tuple[str, str | None]] = [
    ("PET + CT", None),
    ("PET only (CT withheld)", "ct"),
    ("CT only (PET withheld)", "pet"),
]
"""Table III rows: label → modality declared missing at inference."""

DOSE_CONDITIONS: list[tuple[str, str | None]] = [
    ("native", "native"),
    ("mild (50 % dose)", "mild"),
    ("severe (25 % dose)", "severe"),
    ("mixed", "mixed"),
]
"""Table IV rows: label → dose level of :mod:`reactkd.dose` (the student's CT is simulated at that dose, on
the CT as acquired; ``native`` is evaluated like the others so that its liver noise is measured too)."""

DOSE_RESPONSE: tuple[float, ...] = (1.0, 0.5, 0.25, 0.1, 0.05)
"""Dose fractions of the dose-response curve written beside Table IV."""


def _condition(runs: list[Path], manifest: str | None, dose: str | None, withhold: str | None, device: dict):
    """Summary (mean ± std over every fold of every run) of the runs' students under one condition, and
    the mean (std) over runs of the cohort's mean liver noise (HU) at that dose (NaN without a dose).
    ``device``: ``device`` / ``precision`` overrides of :func:`~reactkd.inference.run_eval.evaluate_run`."""

    per_fold, noise = [], []
    for run in runs:
        out = run / "eval" / eval_tag(manifest, dose, withhold)
        n_folds = len(list(run.glob("fold*/student/best.pt")))
        if not ((out / "summary.csv").is_file() and len(list(out.glob("fold*/predictions.csv"))) == n_folds):
            out = evaluate_run(run, manifest, dose, withhold, **device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_fold += evaluate_folds(read_run_predictions(out))[0]
        noise.append(read_noise(out)[0])
    return aggregate_folds(per_fold), _mean_std(noise)


def _runs_and_folder(run: str | Path | list, out: str | Path | None) -> tuple[list[Path], Path]:
    runs = [Path(r) for r in run] if isinstance(run, (list, tuple)) else [Path(run)]
    if not runs:
        raise ValueError("give at least one run folder.")
    for r in runs:
        read_run_info(r)  # a missing folder, or one of another format or kind, is refused before any work
    if out is None and len(runs) > 1:
        raise ValueError("several runs are pooled into one table: say where it goes (--out).")
    return runs, Path(out) if out is not None else runs[0] / TABLES_DIR


def _write(folder: Path, name: str, title: str, summaries: dict, row_title: str) -> Path:
    """Write the table; values ``(summary, (noise mean, noise std))`` add a liver-noise column."""

    noise = {k: v[1] for k, v in summaries.items() if isinstance(v, tuple)}
    summaries = {k: (v[0] if isinstance(v, tuple) else v) for k, v in summaries.items()}
    table: Table = summary_table(summaries, row_title=row_title)
    numeric = summary_table(summaries, row_title=row_title, numeric=True)
    if noise:
        table = Table((*table.header, "Liver noise (HU)"),
                      tuple((*r, format_mean_std(*noise[r[0]], digits=1)) for r in table.rows))
        numeric = Table((*numeric.header, "liver_noise_hu_mean", "liver_noise_hu_std"),
                        tuple((*r, repr(noise[r[0]][0]), repr(noise[r[0]][1])) for r in numeric.rows))
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / f"{name}.csv")
    numeric.to_csv(folder / f"{name}_numeric.csv")
    path = folder / f"{name}.md"
    path.write_text(f"# {title}\n\n{table.to_markdown()}\n", encoding="utf-8")
    return path


def _over(runs: list[Path]) -> str:
    return "folds" if len(runs) == 1 else f"every fold of {len(runs)} runs"


def robustness_table(run: str | Path | list, manifest: str | None = None, out: str | Path | None = None, *,
                     device: str | None = None, precision: str | None = None) -> Path:
    """Table III: the students of ``run`` (one run folder, or several pooled into ``out``) with both
    modalities, PET only and CT only; returns the markdown path. On the phantom (and its own cohort, no
    ``manifest``) the trait-oracle rows follow (:mod:`reactkd.phantom.oracle`): ``(CT)`` against CT only,
    ``(PET)`` against PET only, ``(all)`` against PET + CT. The students run on each run's device and
    precision unless ``device`` / ``precision`` say otherwise.

    Raises:
        FileNotFoundError: a run folder is missing. ValueError: several runs and no ``out``.
    """
    runs, folder = _runs_and_folder(run, out)
    where = {"device": device, "precision": precision}
    summaries = {label: _condition(runs, manifest, None, w, where)[0] for label, w in MODALITY_CONDITIONS}
    if manifest is None:
        summaries.update(oracle_rows(runs))
    return _write(folder, "table3_missing_modality",
                  f"Missing modality (Table III): students, mean ± std over {_over(runs)}", summaries, "Inputs")


def dose_table(run: str | Path | list, manifest: str | None = None, out: str | Path | None = None,
               response: tuple[float, ...] = DOSE_RESPONSE, *, device: str | None = None,
               precision: str | None = None) -> Path:
    """Table IV: the students of ``run`` (one or several, as :func:`robustness_table`) at native, mild,
    severe and mixed dose, with the liver noise (HU, acquired grid) at each; and beside it
    ``table4_dose_response`` at the fractions ``response``. Returns the Table IV markdown path.

    ``manifest``: another cohort, e.g. an external CT-only one (the paper's Table IV is on external CT):
    every fold's student grades every case from its CT alone (a case without PET is declared so), at each
    dose simulated on that case's CT as acquired. The tables are named after it
    (``table4_dose_<manifest stem>``)."""
    runs, folder = _runs_and_folder(run, out)
    suffix = f" on {Path(manifest).name}" if manifest else ""
    stem = "table4_dose" + (f"_{Path(manifest).stem}" if manifest else "")
    over = _over(runs)
    where = {"device": device, "precision": precision}
    rows = {label: _condition(runs, manifest, d, None, where) for label, d in DOSE_CONDITIONS}
    path = _write(folder, stem, f"Dose degradation (Table IV){suffix}: students, mean ± std over {over}; "
                  "liver noise: mean over cases (std over runs)", rows, "CT dose")
    # Fractions equal to a named level use its name, so their evaluations (and dose caches) are shared.
    names = {level.fraction: level.value for level in DoseLevel}
    curve = {f"{k:g}": _condition(runs, manifest, names.get(k, f"{k:g}"), None, where) for k in response}
    _write(folder, stem + "_response", f"Dose-response{suffix}: students at each dose fraction, mean ± std over "
           f"{over}", curve, "Dose fraction")
    return path


def _mean_std(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    mean = sum(finite) / len(finite)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) if len(finite) > 1 else math.nan
    return mean, std
