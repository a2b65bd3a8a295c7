"""Building a manifest from a cohort folder: find the cases (a layout), join the clinical table, check
every case as ``predict`` would, and summarise. Nothing under the root is written or changed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from reactkd.cohort.layouts.check import case_record, check_case
from reactkd.cohort.layouts.clinical import read_clinical
from reactkd.cohort.layouts.detect import Layout, detect_layout
from reactkd.cohort.layouts.dicom_tree import find_dicom
from reactkd.cohort.layouts.folders import find_folders
from reactkd.cohort.layouts.found import Finding, ProblemKind
from reactkd.cohort.layouts.join import join_clinical
from reactkd.cohort.layouts.lits import LabelValues, find_lits
from reactkd.cohort.layouts.segments import SegmentNames
from reactkd.cohort.layouts.summary import ManifestSummary
from reactkd.utils.enums import parse_enum

__all__ = ["ManifestOptions", "build_manifest"]


@dataclass(frozen=True)
class ManifestOptions:
    """How to read a cohort folder.

    Attributes:
        layout: ``auto`` (detected, see :mod:`.detect`), ``lits``, ``dicom`` or ``folders``.
        labels: liver and tumour label values of label maps (LiTS, a case folder's segmentation).
        segments: names that make a segment the liver or a tumour (DICOM SEG, ``.seg.nrrd``).
        clinical: a CSV/TSV/XLSX table with a patient and a grade column (:mod:`.clinical`).
        patient_column, grade_column, sheet: the table's columns and XLSX sheet, when not detected.
        keep_ungraded: keep cases without a grade when a table is given (for ``predict``).
        cohort: the manifest's ``cohort`` value for every case (e.g. the centre).
    """

    layout: Layout | str = Layout.AUTO
    labels: LabelValues = LabelValues()
    segments: SegmentNames = field(default_factory=SegmentNames)
    clinical: Path | None = None
    patient_column: str | None = None
    grade_column: str | None = None
    sheet: str | None = None
    keep_ungraded: bool = False
    cohort: str = ""


def _find(root: Path, options: ManifestOptions) -> tuple[Finding, str]:
    layout = parse_enum(Layout, options.layout, "--layout")
    index, reason = None, "chosen"
    if layout is Layout.AUTO:
        layout, why, index = detect_layout(root)
        reason = f"auto: {why}"
    if layout is Layout.LITS:
        return find_lits(root, options.labels), reason
    if layout is Layout.DICOM:
        return find_dicom(root, options.segments, index), reason
    return find_folders(root, options.labels, options.segments), reason


def build_manifest(root: str | os.PathLike, options: ManifestOptions = ManifestOptions(),
                   log: Callable[[str], None] | None = None) -> ManifestSummary:
    """Find, join and check the cases under ``root``; returns the usable records and every problem.

    Raises:
        FileNotFoundError / NotADirectoryError: ``root`` is missing or a file.
        ValueError: a clinical table that cannot be read or whose columns cannot be found, an unknown
            layout, or ``auto`` finding no layout; all before any case is read.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"cohort folder not found: {root}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is a file; give the cohort's folder.")
    table = None
    if options.clinical is not None:
        table = read_clinical(options.clinical, options.patient_column, options.grade_column, options.sheet)
    finding, reason = _find(root, options)
    found = len(finding.cases)
    if table is not None:
        join_clinical(finding, table, options.keep_ungraded)
    summary = ManifestSummary(root, finding.layout, reason, found, clinical=table.path if table else None)
    for i, case in enumerate(finding.cases, start=1):
        record = case_record(case, options.cohort)
        problem, warned = check_case(record)
        named = f"case {case.case_id}: "  # the reader's messages name the case already
        summary.notes += [w if w.startswith(named) else named + w for w in warned]
        if problem is not None:
            finding.problem(ProblemKind.CHECK_FAILED, f"case {case.case_id}",
                            f"{problem.removeprefix(named)} ({case.source})")
        else:
            summary.records.append(record)
        if log is not None:
            log(f"[{i}/{len(finding.cases)}] {case.case_id}: " + ("ok" if problem is None else f"left out: {problem}"))
    summary.problems, summary.notes = finding.problems, finding.notes + summary.notes
    return summary
