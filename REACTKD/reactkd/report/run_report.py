"""The run report: tables in the paper's layout and figures, linked from ``RUN/report/index.md``, and the
same report as one self-contained ``RUN/report/index.html`` (figures embedded) to open or send."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

from reactkd.evaluate.dca import GradeQuestion, grade_decision_curve
from reactkd.evaluate.figures import plot_dca, plot_roc, plot_tsne
from reactkd.evaluate.metrics import evaluate_folds
from reactkd.evaluate.predictions import concat_predictions, read_run_predictions
from reactkd.evaluate.roc import ovr_roc_curves
from reactkd.evaluate.tables import fold_table, summary_table
from reactkd.evaluate.training_figures import plot_training_panels
from reactkd.evaluate.tsne import tsne_embedding
from reactkd.inference.fit_gap import fit_gap_predictions, fit_gap_table
from reactkd.inference.topology import topology_figures
from reactkd.report.calibration import calibration_section
from reactkd.report.html import write_html
from reactkd.report.record_tables import mean_std

__all__ = ["write_report", "fit_gap_section", "fit_gap_verdict", "MODELS", "FIT_GAP_TEXT"]

MODELS = {"student": "fold*/predictions.csv", "teacher": "fold*/teacher_predictions.csv"}


def _training_log(run: Path, out: Path) -> Path | None:
    """All stages' per-epoch metrics in one CSV with ``stage`` and ``fold`` columns."""
    rows = []
    for path in sorted(run.glob("fold*/*/metrics.csv")):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                rows.append({"stage": path.parent.name, "fold": path.parent.parent.name[4:], **r})
    if not rows:
        return None
    columns = list(dict.fromkeys(k for r in rows for k in r))
    target = out / "training_log.csv"
    with open(target, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return target


FIT_GAP_TEXT = ("Each fold's teacher and student scored on the patients they trained on (every case outside the "
                "fold's test set) and on the held-out ones (macro one-vs-rest AUC). A teacher far better on its "
                "training patients than held out has memorised them: on the cases the student trains on, its "
                "soft labels then mostly repeat the labels, and distillation has little else to pass on.")


def fit_gap_section(run: Path, out: Path, *, device: str | None = None, precision: str | None = None) -> list[str]:
    """The report's training-set against held-out section (``out/fit_gap.csv``), predicting the training cases
    first where a fold has not yet (:func:`~reactkd.inference.fit_gap.fit_gap_predictions`). A run without the
    checkpoints or held-out predictions it needs gets the reason instead of the table."""
    lines = ["## Training-set against held-out AUC (memorisation)", "", FIT_GAP_TEXT, ""]
    try:
        fit_gap_predictions(run, log=lambda *_: None, device=device, precision=precision)
        table = fit_gap_table(run)
    except FileNotFoundError as err:  # a checkpoint or a fold's predictions not in the run folder
        (out / "fit_gap.csv").unlink(missing_ok=True)  # no table of an earlier state of the run
        return lines + [f"Not computed: {err}", ""]
    table.to_csv(out / "fit_gap.csv")
    return lines + [table.to_markdown(), "As CSV: [fit_gap.csv](fit_gap.csv)", "", fit_gap_verdict(table), ""]


def fit_gap_verdict(table) -> str:
    """One sentence on the fit gap's mean row: whether the teachers are at least as good held out as the
    students and, where they are not, why (they fit their training patients better than anything held out)."""
    mean = dict(zip(table.header, table.rows[-1], strict=True))
    t_train, t_held, s_held = (mean_std(mean[c])[0] for c in (
        "Teacher training-set AUC", "Teacher held-out AUC", "Student held-out AUC"))
    if math.isnan(t_train + t_held + s_held):  # n/a: a grade missing from every fold
        return "The mean AUCs are not defined for this run (a grade missing from its folds)."
    if t_held >= s_held:
        return (f"Held out, the teachers ({t_held:.3f}) are at least as good as the students ({s_held:.3f}), "
                f"as distillation presumes.")
    return (f"Held out, the teachers ({t_held:.3f}) are weaker than the students ({s_held:.3f}): they fit their "
            f"training patients ({t_train:.3f}) far better than new ones, memorising them at this cohort size. On "
            f"the students' training cases their soft labels then mostly repeat the labels, and distillation has "
            f"little to add.")


def write_report(run: str | Path, title: str | None = None, extra_sections: list[str] | None = None, *,
                 device: str | None = None, precision: str | None = None) -> Path:
    """Write ``RUN/report/`` (tables as markdown + CSV, PNG figures, ``index.md``, ``index.html``); returns
    ``index.md``. Calibrates the run first where it is not yet (:mod:`reactkd.inference.calibrate`), and has
    each fold's models predict their training cases where they have not (:mod:`reactkd.inference.fit_gap`).
    The models it runs (calibration, training-set predictions, topology maps) run on the run's device and
    precision unless ``device`` / ``precision`` say otherwise (:func:`~reactkd.inference.device.evaluation_runtime`).

    Raises:
        FileNotFoundError: the run has no prediction files yet.
    """
    run = Path(run)
    out = run / "report"
    out.mkdir(parents=True, exist_ok=True)
    summaries, lines, pooled = {}, [f"# {title or run.name}", ""], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small folds may miss a grade; the tables say n per metric
        for name, pattern in MODELS.items():
            tables = read_run_predictions(run, pattern)
            if not tables:
                continue
            per_fold, summary = evaluate_folds(tables)
            summaries[name] = summary
            ft = fold_table(per_fold, summary)
            ft.to_csv(out / f"folds_{name}.csv")
            ft.write_markdown(out / f"folds_{name}.md")
            pooled[name] = concat_predictions(tables)
    if not summaries:
        raise FileNotFoundError(f"{run} has no fold predictions yet (fold*/predictions.csv).")
    table = summary_table(summaries)
    table.to_csv(out / "summary.csv")
    summary_table(summaries, numeric=True).to_csv(out / "summary_numeric.csv")
    lines += ["## Cross-validated performance (mean ± std over folds)", "", table.to_markdown(), ""]
    lines += ["Per fold: " + ", ".join(f"[{m}](folds_{m}.md)" for m in summaries), ""]
    lines += fit_gap_section(run, out, device=device, precision=precision)
    figures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, t in pooled.items():
            plot_roc(ovr_roc_curves(t.grade, t.probs), out / f"roc_{name}.png", title=f"ROC — {name} (pooled folds)")
            figures.append(f"roc_{name}.png")
        for q in GradeQuestion:
            curves = [grade_decision_curve(t.grade, t.probs, q, label=name) for name, t in pooled.items()]
            plot_dca(curves, out / f"dca_{q.value}.png", title=q.title)
            figures.append(f"dca_{q.value}.png")
        student = pooled.get("student")
        if student is not None and len(student.grade) >= 5:
            emb = tsne_embedding(student.logits, seed=0)
            plot_tsne(emb, student.grade, out / "tsne_student.png", title="t-SNE of student logits")
            figures.append("tsne_student.png")
    figures += topology_figures(run, out, device=device, precision=precision)
    log = _training_log(run, out)
    if log is not None:
        plot_training_panels(log, out / "training.png", title="Training (thin: folds; bold: mean over folds)")
        figures.append("training.png")
    calibration, calibration_figures = calibration_section(run, out, device=device, precision=precision)
    lines += calibration + [f"![{f}]({f})" for f in calibration_figures] + ([""] if calibration_figures else [])
    lines += ["## Figures", ""] + [f"![{f}]({f})" for f in figures] + [""]
    extra = sorted((run / "tables").glob("*.md"))  # Tables III/IV of `reactkd robustness` / `reactkd dose`
    if extra:
        lines += ["## Further tables", ""] + [f"- [{t.stem}](../tables/{t.name})" for t in extra] + [""]
    lines += extra_sections or []
    index = out / "index.md"
    index.write_text("\n".join(lines) + "\n")
    write_html(index, out / "index.html", title=title or run.name)
    return index
