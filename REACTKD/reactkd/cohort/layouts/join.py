"""Joining a clinical table to the cases found: each case's grade and clinical values by its patient.

Patients match by their id as written, ignoring case and surrounding spaces. Every mismatch is named:
a case whose patient has no row, a row whose patient has no case, a patient listed twice (with
different grades its cases get none), a grade that does not parse, a row without a grade. A case left
without a grade is left out of the manifest, since training needs a grade, unless ``keep_ungraded``
(a manifest for ``reactkd predict``, which takes cases without a grade).
"""

from __future__ import annotations

from reactkd.cohort.layouts.clinical import ClinicalRow, ClinicalTable
from reactkd.cohort.layouts.found import Finding, FoundCase, ProblemKind

__all__ = ["join_clinical"]


def _key(patient: str) -> str:
    return patient.strip().casefold()


def _patient_grades(table: ClinicalTable, finding: Finding) -> dict[str, tuple[ClinicalRow, str | None]]:
    """``patient key → (its row, why it gives no grade or None)``; duplicate patients are named here."""
    rows: dict[str, list[ClinicalRow]] = {}
    for row in table.rows:
        rows.setdefault(_key(row.patient), []).append(row)
    out = {}
    for key, found in rows.items():
        first = found[0]
        if len(found) > 1:
            grades = sorted({r.grade for r in found if r.grade is not None})
            texts = sorted({r.grade_text for r in found})
            agree = len(grades) <= 1 and not any(r.grade_problem for r in found)
            finding.problem(ProblemKind.DUPLICATE_PATIENT, f"patient {first.patient}",
                            f"{len(found)} rows of {table.path.name} ({', '.join(str(r.row) for r in found)})"
                            + ("; the same grade, used" if agree else f"; grades {texts} disagree: no grade"))
            if not agree:
                out[key] = (first, f"{len(found)} rows of {table.path.name} disagree on the grade ({texts})")
                continue
            first = next((r for r in found if r.grade is not None), first)
        if first.grade_problem:
            finding.problem(ProblemKind.GRADE_UNPARSED, f"{table.path.name} row {first.row} (patient {first.patient})",
                            first.grade_problem)
            out[key] = (first, f"its grade {first.grade_text!r} does not parse (row {first.row})")
        elif first.grade is None:
            out[key] = (first, f"row {first.row} of {table.path.name} gives no grade ({first.grade_text!r})")
        else:
            out[key] = (first, None)
    return out


def join_clinical(finding: Finding, table: ClinicalTable, keep_ungraded: bool = False) -> None:
    """Set each case's grade and clinical values from ``table`` (in place); see the module docstring."""
    by_patient = _patient_grades(table, finding)
    with_case = {_key(c.patient_id) for c in finding.cases}
    for key, (row, _) in by_patient.items():
        if key not in with_case:
            finding.problem(ProblemKind.CLINICAL_ROW_WITHOUT_CASE, f"{table.path.name} row {row.row}",
                            f"patient {row.patient!r} has no case under the root")
    kept: list[FoundCase] = []
    fate = "kept without a grade" if keep_ungraded else "left out (training needs a grade; --keep-ungraded keeps it)"
    for case in finding.cases:
        entry = by_patient.get(_key(case.patient_id))
        if entry is None:
            finding.problem(ProblemKind.NO_CLINICAL_ROW, f"case {case.case_id}",
                            f"patient {case.patient_id!r} is not in {table.path.name}; {fate}")
        else:
            row, why_not = entry
            case.grade = row.grade if why_not is None else None
            case.clinical = dict(row.extras)
            if why_not is not None:
                finding.problem(ProblemKind.NO_GRADE, f"case {case.case_id}", f"{why_not}; {fate}")
        if case.grade is not None or keep_ungraded:
            kept.append(case)
    finding.cases = kept
    finding.notes.extend(table.notes)
