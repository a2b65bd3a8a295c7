"""``reactkd results --collect DIR``: copy the small files the results record reads from every source into
``DIR/<source name>/``, keeping their layout, so that the record is written from the copies and the copies,
committed beside it, regenerate it byte for byte on any checkout.

What is copied (:mod:`reactkd.report.record_sources` reads nothing else):

- a run: ``run.json``, ``config.yaml``, its tables (``tables/table3_missing_modality.csv``, ``tables/table4_dose*.csv``
  but the ``*_numeric.csv``), ``eval/<cohort>_native_*/summary.csv`` of other cohorts, ``report/summary.csv``,
  ``report/fit_gap.csv``, ``report/calibration.csv`` and a segmentation run's ``evaluation.csv``; a row of a
  ``compare``/``ablate`` suite keeps its place ``SUITE/runs/seed*/<row>`` beside the suite's ``suite.yaml``, so it is
  stamped as the suite's row still;
- a suite: ``suite.yaml``, ``table.csv``, ``paired.csv`` and each row's ``run.json`` and ``config.yaml``;
- a pooled table folder: its tables and ``fit_gap.csv``, its runs under ``pooled/`` and a ``sources.json`` naming
  them, so the copy needs no ``DIR=RUN,…`` on the command line;
- a cohort: a slim ``cohort.json`` (generator, its version and parameters; no per-case truth) in ``cohort/`` of the
  run or suite, where the record looks first (:func:`reactkd.report.record_stamp.cohort_folder`);
- the ``--ceiling`` JSON, as ``DIR/<its name>``;
- the ``--calibration`` JSON, as ``DIR/<its name>``, and the runs it names like a run given (each once), the copy
  naming their copies (relative to ``DIR``).

No checkpoint, image, cache or prediction file is copied. A ``run.json`` without a creation date keeps its file date
(:data:`~reactkd.report.record_stamp.FILE_DATE`). Everything is staged first and each ``DIR/<name>`` is then replaced
whole, so a re-collection leaves no file of an earlier one and the sources may be earlier copies themselves.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path

from reactkd.config.run_dir import RUN_FILE
from reactkd.report.record_calibration import read_calibration_schemes, relocated, scheme_runs
from reactkd.report.record_fit_gap import FIT_GAP
from reactkd.report.record_sources import TABLE3, TABLE4, parse_source, pooled_runs, suite_base, suite_of
from reactkd.report.record_stamp import COHORT_FILE, FILE_DATE, RunRecord, read_cohort
from reactkd.utils.atomic import atomic_write_text

__all__ = ["collect", "POOLED", "SOURCES", "SLIM_KEYS"]

RUN_GLOBS = (RUN_FILE, "config.yaml", "evaluation.csv", "report/summary.csv", f"report/{FIT_GAP}",
             "report/calibration.csv", f"tables/{TABLE3}.csv", f"tables/{TABLE4}*.csv", "eval/*_native_*/summary.csv")
POOLED_GLOBS = (f"{TABLE3}.csv", f"{TABLE4}*.csv", FIT_GAP)
SUITE_FILES = ("suite.yaml", "table.csv", "paired.csv")
POOLED, SOURCES = "pooled", "sources.json"
SLIM_KEYS = ("generator", "generator_version", "parameters")
"""What a collected ``cohort.json`` keeps: all the record reads of a cohort."""


def _read(relative: Path) -> bool:
    """Whether the record reads a file a glob found (not the numeric twins of tables, not the cross-validation
    evaluations: the run's own tables hold those)."""
    parts = relative.parts
    return not relative.name.endswith("_numeric.csv") and not (parts[0] == "eval" and parts[1].startswith("cv_"))


class _Plan:
    """The files to write (destination → source path or text), each top-level copy claimed by one folder."""

    def __init__(self, into: Path):
        self.into, self.files, self.roots = into, {}, {}

    def claim(self, root: Path, origin: Path) -> None:
        known = self.roots.setdefault(root, origin.resolve())
        if known != origin.resolve():
            raise ValueError(f"{known} and {origin}: both would be collected into {root}; give folders of "
                             f"different names.")

    def copy(self, src: Path, base: Path, dest: Path, patterns: tuple[str, ...]) -> None:
        for pattern in patterns:
            for path in sorted(base.glob(pattern)):
                if path.is_file() and _read(path.relative_to(base)):
                    self.files[dest / path.relative_to(base)] = path if path.name != RUN_FILE else _run_json(path)

    def cohort(self, folder: Path, dest: Path) -> None:
        """The slim ``cohort.json`` of ``folder`` as ``dest/cohort/cohort.json`` (nothing where it has none)."""
        meta = read_cohort(folder)
        if meta is not None:
            slim = {k: meta[k] for k in SLIM_KEYS if k in meta}
            self.files[dest / "cohort" / COHORT_FILE] = json.dumps(slim, indent=2) + "\n"
        elif (folder / COHORT_FILE).is_file():
            self.files[dest / "cohort" / COHORT_FILE] = folder / COHORT_FILE  # unreadable: as it is

    def suite(self, folder: Path, root: Path, rows: bool) -> None:
        self.claim(root, folder)
        self.copy(folder, folder, root, SUITE_FILES if rows else SUITE_FILES[:1])
        self.cohort(suite_base(folder)[2], root)
        if rows:
            self.copy(folder, folder, root, (f"runs/seed*/*/{RUN_FILE}", "runs/seed*/*/config.yaml"))

    def run(self, run: Path, base: Path) -> Path:
        """Copy a run under ``base`` (a suite's row with its suite); returns where its copy is."""
        suite = suite_of(run)
        if suite is not None and (suite / "suite.yaml").is_file():
            self.suite(suite, base / suite.name, rows=False)
            dest = base / suite.name / run.resolve().relative_to(suite.resolve())
        else:
            dest = base / run.resolve().name
            self.claim(dest, run)
        self.copy(run, run, dest, RUN_GLOBS)
        self.cohort(RunRecord.read(run).cohort_dir(), dest)
        return dest

    def source(self, spec: str) -> Path:
        """Plan one source; returns the folder its copy is read from."""
        folder, named = parse_source(spec)
        if (folder / "suite.yaml").is_file():
            self.suite(folder, self.into / folder.resolve().name, rows=True)
            return self.into / folder.resolve().name
        if (folder / RUN_FILE).is_file() or (folder / "config.yaml").is_file():
            return self.run(folder, self.into)
        runs = pooled_runs(folder, named)
        if not named and not (folder / SOURCES).is_file():  # RUN/tables: its run's
            dest = self.run(runs[0], self.into) / folder.resolve().name
            self.copy(folder, folder, dest, POOLED_GLOBS)
            return dest
        root = self.into / folder.resolve().name
        self.claim(root, folder)
        self.copy(folder, folder, root, POOLED_GLOBS)
        listed = [Path(os.path.relpath(self.run(r, root / POOLED), root)).as_posix() for r in runs]
        self.files[root / SOURCES] = json.dumps({"runs": listed}, indent=2) + "\n"
        return root

    def calibration(self, path: Path) -> Path:
        """Plan the calibration-schemes JSON and its runs; returns where its copy is."""
        data = read_calibration_schemes(path)
        copy = self.into / path.name
        self.claim(copy, path)
        names = {name: Path(os.path.relpath(self.run(run, self.into), self.into)).as_posix()
                 for name, run in zip(data["runs"], scheme_runs(data, path))}
        self.files[copy] = relocated(data, names)
        return copy


def _run_json(path: Path) -> str:
    """A ``run.json`` as copied: as it is, with its file date where it records no creation date (an earlier copy
    keeps the date it kept)."""
    text = path.read_text(encoding="utf-8")
    info = json.loads(text)  # an object: every run was read before it is copied
    created = info.get("created")
    if (isinstance(created, str) and len(created) >= 10) or FILE_DATE in info:
        return text
    mtime = path.stat().st_mtime
    info[FILE_DATE] = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).date().isoformat()
    return json.dumps(info, indent=2) + "\n"


def collect(sources: list[str], into: Path, ceiling: Path | None = None, calibration: Path | None = None
            ) -> tuple[list[str], Path | None, Path | None]:
    """Copy what the record reads of ``sources`` (folders, or ``DIR=RUN[,RUN…]``; each already read once, so each
    is one the record knows), of ``ceiling`` and of ``calibration`` (with its runs) into ``into``; returns the
    copies' sources, ceiling and calibration JSON.

    Raises:
        ValueError: two different folders would be copied to the same place (nothing is written then).
    """
    into = Path(into)
    plan = _Plan(into)
    copies = [str(plan.source(spec)) for spec in sources]
    ceiling_copy = None
    if ceiling is not None:
        ceiling_copy = into / Path(ceiling).name
        plan.claim(ceiling_copy, Path(ceiling))
        plan.files[ceiling_copy] = Path(ceiling)
    calibration_copy = plan.calibration(Path(calibration)) if calibration is not None else None
    staging = into / f".collecting-{os.getpid()}"
    try:
        for dest, what in plan.files.items():
            target = staging / dest.relative_to(into)
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(what, Path):
                shutil.copyfile(what, target)
            else:
                atomic_write_text(target, what)
        for root in plan.roots:
            top = into / root.relative_to(into).parts[0]
            if (staging / top.name).exists():
                if top.is_dir() and not top.is_symlink():
                    shutil.rmtree(top)
                elif top.exists():
                    top.unlink()
                os.replace(staging / top.name, top)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return copies, ceiling_copy, calibration_copy
