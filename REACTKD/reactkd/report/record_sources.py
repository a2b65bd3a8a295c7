"""What each folder given to ``reactkd results`` is, and the stamped sections it contributes.

A folder is recognised by its files:

- a **suite** of ``reactkd compare`` / ``ablate``: ``suite.yaml`` (its ``kind``), ``table.csv``, ``paired.csv``;
  stamped from its base config, its cohort and the ``run.json`` of every ``runs/seed*/<row>/``;
- a **grading run folder** (``run.json`` of kind ``grading``): ``tables/table3_missing_modality.csv`` (Table
  III), ``tables/table4_dose.csv`` with ``table4_dose_response.csv`` (Table IV), ``tables/table4_dose_<cohort>.csv``
  and ``eval/<cohort>_native_*/summary.csv`` (another cohort, e.g. the CT-only external site),
  ``report/summary.csv``, ``report/fit_gap.csv`` and ``report/calibration.csv`` (the run report);
- a **segmentation run folder** (``run.json`` of kind ``segmentation``): ``evaluation.csv`` of ``seg-distill``;
- a **pooled table folder** (``reactkd robustness`` / ``dose --run RUN … --out DIR``): the same table files
  (and ``fit_gap.csv``) without ``run.json``. It does not record which runs it pooled, so they are named on the
  command line as ``DIR=RUN[,RUN…]``, or listed in ``DIR/sources.json`` (``{"runs": [paths relative to DIR]}``); a
  ``RUN/tables`` folder is its run's.

Anything else is refused in one line naming the folder, before anything is written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from reactkd.config.run_dir import GRADING, RUN_FILE, SEGMENTATION
from reactkd.evaluate.tables import Table
from reactkd.report.record_fit_gap import FIT_GAP, fit_gap_section
from reactkd.report.record_section import Section, config_name
from reactkd.report.record_stamp import (
    RunRecord,
    ShippedConfigs,
    Stamp,
    cohort_folder,
    config_text,
    read_cohort,
    stamp_runs,
)
from reactkd.report.record_tables import formatted, mean_std, paired_rows, read_table

__all__ = ["Section", "read_source", "parse_source", "suite_of", "suite_base", "pooled_runs", "run_stamp", "ORDER",
           "TABLE3", "TABLE4"]

TABLE3, TABLE4 = "table3_missing_modality", "table4_dose"
ORDER = ("compare", "ablate", "summary", "fit_gap", "table3", "table4", "external", "external_dose", "calibration",
         "calibration_schemes", "segmentation")
"""Section kinds in the order of the record (the paper's tables first)."""


def _auc(table: Table) -> dict[str, tuple[float, float]]:
    return {r[0]: mean_std(r[table.header.index("AUC")]) for r in table.rows} if "AUC" in table.header else {}


def _patients(cohort: Path) -> int | None:
    """The number of patients the phantom cohort's ``cohort.json`` records (None: no phantom there)."""
    try:
        return int(read_cohort(cohort)["parameters"]["n_patients"])
    except (ValueError, KeyError, TypeError):
        return None


def _suite_sections(folder: Path, shipped: ShippedConfigs) -> list[Section]:
    suite = suite_base(folder)
    kind = yaml.safe_load((folder / "suite.yaml").read_text(encoding="utf-8"))["kind"]
    if not (folder / "table.csv").is_file():
        raise ValueError(f"{folder}: a {kind} suite without table.csv yet; finish it (re-run `reactkd {kind}`).")
    runs = [RunRecord.read(p.parent) for p in sorted((folder / "runs").glob(f"seed*/*/{RUN_FILE}"))]
    stamp = stamp_runs(runs, shipped, suite)
    table = read_table(folder / "table.csv")
    body = [table.to_markdown()]
    folds = (yaml.safe_load(suite[1]).get("data") or {}).get("folds")
    facts = {"auc": _auc(table), "reference": table.rows[0][0] if table.rows else None,
             "patients": _patients(suite[2]), "folds": folds}
    if (folder / "paired.csv").is_file():
        paired = read_table(folder / "paired.csv")
        facts["paired"] = paired_rows(paired)
        body += ["Paired with the first row over every (seed, fold): mean ± std of the per-fold AUC difference, "
                 "folds where the row is higher, two-sided Wilcoxon signed-rank p (uncorrected).", paired.to_markdown()]
    title = ("Table I — distillers" if kind == "compare" else "Table II — ablation: dose teacher × RGD × CBAM3D")
    return [Section(kind, f"{title} ({config_name(stamp)})", folder, stamp, body, facts)]


def _dose_section(kind: str, title: str, tables: Path, stem: str, source: Path, stamp: Stamp, facts: dict) -> Section:
    """Table IV (``stem.csv``) with its dose-response curve (``stem_response.csv``) where written."""
    t = read_table(tables / f"{stem}.csv")
    body = [t.to_markdown()]
    if (tables / f"{stem}_response.csv").is_file():
        body += ["Dose-response:", read_table(tables / f"{stem}_response.csv").to_markdown()]
    column = "Liver noise (HU)"
    noise = {r[0]: r[t.header.index(column)] for r in t.rows} if column in t.header else {}
    return Section(kind, title, source, stamp, body, {"auc": _auc(t), "noise": noise, **facts})


def _table_sections(tables: Path, source: Path, stamp: Stamp) -> list[Section]:
    """Tables III and IV (and Table IV on another cohort: ``table4_dose_<cohort>.csv``) in ``tables``."""
    name = config_name(stamp)
    out = []
    if (tables / f"{TABLE3}.csv").is_file():
        t = read_table(tables / f"{TABLE3}.csv")
        out.append(Section("table3", f"Table III — missing modality ({name})", source, stamp, [t.to_markdown()],
                           {"auc": _auc(t)}))
    if (tables / f"{TABLE4}.csv").is_file():
        out.append(_dose_section("table4", f"Table IV — CT dose ({name})", tables, TABLE4, source, stamp, {}))
    for path in sorted(tables.glob(f"{TABLE4}_*.csv")):
        cohort = path.stem[len(TABLE4) + 1:]
        if cohort not in ("response", "numeric") and not cohort.endswith(("_response", "_numeric")):
            section = _dose_section("external_dose", f"Cohort `{cohort}`: CT dose ({name})", tables, path.stem,
                                    source, stamp, {"cohort": cohort})
            section.facts["by_dose"] = section.facts["auc"]
            section.facts["auc"] = section.facts["auc"].get("native")  # the CT as acquired, for the claims
            out.append(section)
    return out


def _other_cohorts(folder: Path, stamp: Stamp) -> list[Section]:
    """``reactkd evaluate --run RUN --manifest M`` (and ``robustness``): one section per other cohort, a row per
    condition; its CT-only figure is the row without PET (``no-pet``, else all inputs: a CT-only site)."""
    by_cohort: dict[str, list[tuple]] = {}
    for path in sorted(folder.glob("eval/*_native_*/summary.csv")):
        cohort, _, condition = path.parent.name.partition("_native_")
        if cohort != "cv":
            t = read_table(path)
            by_cohort.setdefault(cohort, []).extend((condition, *r[1:]) for r in t.rows)
            header = ("Inputs", *t.header[1:])
    out = []
    for cohort, rows in by_cohort.items():
        t = Table(header, tuple(rows))
        auc = _auc(t)
        ct_only = auc.get("no-pet", auc.get("all-inputs"))
        out.append(Section("external", f"Cohort `{cohort}` ({config_name(stamp)})", folder, stamp, [t.to_markdown()],
                           {"auc": ct_only, "cohort": cohort} if ct_only else {"cohort": cohort}))
    return out


def suite_base(folder: Path) -> tuple[str, str, Path, list[int]] | None:
    """``(kind, base config text, cohort folder, seeds)`` of the suite in ``folder`` (None: no suite there); its
    cohort is ``folder/cohort`` where that holds a ``cohort.json``, else the base's ``data.manifest``'s folder."""
    path = folder / "suite.yaml"
    if not path.is_file():
        return None
    request = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    base = request.get("base")
    if request.get("kind") not in ("compare", "ablate") or not isinstance(base, dict):
        raise ValueError(f"{folder}: suite.yaml of an unknown kind {request.get('kind')!r} (compare or ablate).")
    cohort = cohort_folder(folder / "cohort", (base.get("data") or {}).get("manifest"))
    return GRADING, config_text(base), cohort, list(request.get("seeds") or [])


def suite_of(run: Path) -> Path | None:
    """The suite folder of a suite row ``SUITE/runs/seed*/<row>`` (None: the run is no suite's row)."""
    parents = run.resolve().parents
    return parents[2] if len(parents) > 2 and parents[1].name == "runs" else None


def run_stamp(runs: list[RunRecord], shipped: ShippedConfigs) -> Stamp:
    """Runs of one suite (``SUITE/runs/seed*/<row>``) are stamped with the suite's base config and cohort; others
    with their own."""
    suites = {suite_of(r.folder) for r in runs}
    suite = next(iter(suites)) if len(suites) == 1 else None
    base = suite_base(suite) if suite is not None else None
    if base is not None:
        base = (*base[:3], [r.seed for r in runs if r.seed is not None])
    return stamp_runs(runs, shipped, base)


def _run_sections(run: RunRecord, shipped: ShippedConfigs) -> list[Section]:
    folder, stamp = run.folder, run_stamp([run], shipped)
    name = config_name(stamp)
    if run.kind == SEGMENTATION:
        if not (folder / "evaluation.csv").is_file():
            raise ValueError(f"{folder}: a segmentation run without evaluation.csv yet; finish `reactkd seg-distill`.")
        t = formatted(read_table(folder / "evaluation.csv"))
        return [Section("segmentation", f"Segmentation: ReCo-KD ({name}, `{folder.name}`)", folder, stamp,
                        [t.to_markdown()])]
    out = []
    if (folder / "report" / "summary.csv").is_file():
        t = read_table(folder / "report" / "summary.csv")
        out.append(Section("summary", f"Cross-validated students and teachers ({name})", folder, stamp,
                           [t.to_markdown()], {"auc": _auc(t)}))
    if (folder / "report" / FIT_GAP).is_file():
        out.append(fit_gap_section(folder / "report" / FIT_GAP, folder, stamp))
    out += _table_sections(folder / "tables", folder, stamp)
    out += _other_cohorts(folder, stamp)
    if (folder / "report" / "calibration.csv").is_file():
        t = formatted(read_table(folder / "report" / "calibration.csv"))
        out.append(Section("calibration", f"Calibration ({name})", folder, stamp, [t.to_markdown()]))
    if not out:
        raise ValueError(f"{folder}: a grading run with no table to record yet (run `reactkd evaluate`, `robustness` "
                         f"or `dose --run` on it).")
    return out


def pooled_runs(folder: Path, named: list[Path]) -> list[Path]:
    """The runs a pooled table folder pooled: those named with it, else its ``sources.json``'s, else (a
    ``RUN/tables`` folder) its run."""
    if named:
        return named
    if (folder / "sources.json").is_file():
        try:
            listed = json.loads((folder / "sources.json").read_text(encoding="utf-8"))["runs"]
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"{folder / 'sources.json'}: must be JSON {{\"runs\": [run folders]}}.") from None
        return [folder / p for p in listed]
    if (folder.parent / RUN_FILE).is_file():
        return [folder.parent]
    raise ValueError(f"{folder}: a pooled table folder that does not record its runs; name them as "
                     f"{folder}=RUN[,RUN...] (or list them in {folder / 'sources.json'}).")


def _has_tables(folder: Path) -> bool:
    return (folder / f"{TABLE3}.csv").is_file() or any(folder.glob(f"{TABLE4}*.csv")) or (folder / FIT_GAP).is_file()


def parse_source(spec: str) -> tuple[Path, list[Path]]:
    """``DIR`` or ``DIR=RUN[,RUN…]`` → the folder and the runs named with it."""
    folder, sep, runs = spec.partition("=")
    return Path(folder), [Path(r) for r in runs.split(",") if r] if sep else []


def read_source(spec: str, shipped: ShippedConfigs) -> list[Section]:
    """The sections of one folder given to ``reactkd results`` (see the module docstring).

    Raises:
        FileNotFoundError: the folder (or a run named with it) does not exist.
        ValueError: a folder of no kind the record knows, or one without its tables yet.
    """
    folder, named = parse_source(spec)
    for path in (folder, *named):
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such folder.")
    if named and not _has_tables(folder):
        raise ValueError(f"{folder}: runs are named only for a pooled table folder (robustness/dose --out), "
                         f"and it holds no {TABLE3}.csv, {TABLE4}*.csv or {FIT_GAP}.")
    if (folder / "suite.yaml").is_file():
        return _suite_sections(folder, shipped)
    if (folder / RUN_FILE).is_file() or (folder / "config.yaml").is_file():
        return _run_sections(RunRecord.read(folder), shipped)
    if _has_tables(folder):
        stamp = run_stamp([RunRecord.read(r) for r in pooled_runs(folder, named)], shipped)
        fit_gap = [fit_gap_section(folder / FIT_GAP, folder, stamp)] if (folder / FIT_GAP).is_file() else []
        return fit_gap + _table_sections(folder, folder, stamp)
    raise ValueError(f"{folder}: not a folder `reactkd results` knows (no suite.yaml of compare/ablate, no run.json "
                     f"of a run folder, no {TABLE3}.csv, {TABLE4}*.csv or {FIT_GAP} of a pooled folder).")


def relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` (POSIX separators), the same wherever the command runs from."""
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
