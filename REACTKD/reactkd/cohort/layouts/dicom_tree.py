"""The DICOM layout (TCIA collections such as HCC-TACE-Seg): patients, studies and series in any folder
structure, and a DICOM SEG per segmented case.

Each SEG gives one case:

- CT: the series its ReferencedSeriesSequence names (or, without one, the series of the source images
  its frames were derived from), never a guess among the study's phases; a reference to a series that is
  not in the tree, to a non-CT series, or to slices the series lacks is a problem.
- masks: the SEG with segment selectors chosen by segment label (:mod:`.segments`).
- PET: the study's PT series by tracer (:mod:`.tracers`); of several series of one tracer the one
  attenuation-corrected series is taken, else none (named).
- patient: PatientID; ``case_id`` is the PatientID, or ``PatientID_1``, ``_2`` … when a patient has several
  SEGs (in the order of their paths).

The manifest points at the series' folder when the folder holds that series alone, else at one of its
files (the reader then reads the whole series by its UID).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from reactkd.cohort.layouts.dicom_index import DicomIndex, SegInfo, SeriesInfo, index_dicom_tree
from reactkd.cohort.layouts.found import Finding, FoundCase, ProblemKind
from reactkd.cohort.layouts.segments import SegmentNames, choose_segments
from reactkd.cohort.layouts.tracers import dicom_pet_tracer

__all__ = ["find_dicom"]


def _series_path(series: SeriesInfo, index: DicomIndex) -> Path | None:
    """The series' folder when it holds this series alone, else its first file; None when the series is
    spread over several folders (a reader reads one folder)."""
    folders = {f.parent for f in series.files}
    if len(folders) > 1:
        return None
    folder = folders.pop()
    return folder if index.dicom_files_in(folder) == len(series.files) else series.files[0]


def _referenced_ct(seg: SegInfo, index: DicomIndex, finding: Finding) -> SeriesInfo | None:
    refs = seg.referenced_series or sorted({index.instance_series[i] for i in seg.referenced_instances
                                            if i in index.instance_series})
    present = [index.series[u] for u in refs if u in index.series]
    if not present:
        reason = (f"references series {refs}, which is not under the root" if refs else
                  "names no referenced series, and none of the images it was drawn on is under the root")
        finding.problem(ProblemKind.MISSING_SERIES, seg.path, reason)
        return None
    cts = [s for s in present if s.modality == "CT"]
    if not cts:
        finding.problem(ProblemKind.NOT_CT, seg.path, f"references {present[0].name}, not a CT series")
        return None
    if len(cts) > 1:
        finding.problem(ProblemKind.AMBIGUOUS, seg.path, f"references {len(cts)} CT series {[s.name for s in cts]}")
        return None
    missing = [i for i in seg.referenced_instances if i not in index.instance_series]
    if missing:
        finding.problem(ProblemKind.INCOMPLETE, seg.path, f"{len(missing)} of the {len(seg.referenced_instances)} "
                        f"slices it was drawn on are not in {cts[0].name} (an incomplete series)")
        return None
    return cts[0]


def _pets(study_uid: str, index: DicomIndex, subject: str, finding: Finding) -> dict[str, Path]:
    by_tracer: dict[str, list[tuple[SeriesInfo, bool]]] = {}
    for series in index.series.values():
        if series.study_uid != study_uid or series.modality != "PT":
            continue
        tracer, said, corrected = dicom_pet_tracer(series.files[0])
        if tracer is None:
            finding.notes.append(f"{subject}: PET {series.name} left out: its tracer {said!r} is neither FDG "
                                 "nor acetate")
            continue
        by_tracer.setdefault(tracer, []).append((series, corrected))
    pets = {}
    for tracer, found in sorted(by_tracer.items()):
        chosen = [s for s, corrected in found if corrected] if len(found) > 1 else [found[0][0]]
        if len(chosen) != 1:
            finding.notes.append(f"{subject}: {len(found)} {tracer} PET series in the study "
                                 f"{[s.name for s, _ in found]} and not one attenuation-corrected one: none used")
            continue
        path = _series_path(chosen[0], index)
        if path is None:
            finding.notes.append(f"{subject}: PET {chosen[0].name} is spread over several folders: left out")
            continue
        pets[tracer] = path
    return pets


def find_dicom(root: Path, names: SegmentNames = SegmentNames(), index: DicomIndex | None = None) -> Finding:
    """One case per DICOM SEG under ``root`` (see the module docstring); ``index``: the tree's index when
    already read."""
    index = index if index is not None else index_dicom_tree(root)
    finding = Finding("dicom")
    for path, reason in index.unreadable:
        finding.problem(ProblemKind.UNREADABLE, path, reason)
    by_series: dict[str, Path] = {}
    for seg in sorted(index.segs, key=lambda s: (s.patient_id, str(s.path))):
        ct = _referenced_ct(seg, index, finding)
        if ct is None:
            continue
        if ct.uid in by_series:
            finding.problem(ProblemKind.DUPLICATE_CASE, seg.path, f"segments the same CT series as {by_series[ct.uid]} "
                            "(one case per CT series)")
            continue
        choice = choose_segments(seg.path, seg.segments, names, numbered=True)
        if choice.problem:
            kind = ProblemKind.NO_LIVER if not choice.liver_labels else ProblemKind.AMBIGUOUS
            finding.problem(kind, seg.path, choice.problem)
            continue
        ct_path = _series_path(ct, index)
        if ct_path is None or not seg.patient_id:
            reason = "has no PatientID" if ct_path else f"its CT {ct.name} is spread over several folders"
            finding.problem(ProblemKind.INCOMPLETE, seg.path, reason)
            continue
        by_series[ct.uid] = seg.path
        subject = str(seg.path.relative_to(root))
        if choice.ignored:
            finding.notes.append(f"{subject}: segments {choice.ignored} are neither liver nor tumour: not used")
        if not choice.tumor:
            finding.notes.append(f"{subject}: no tumour segment (a liver-only region graph)")
        finding.cases.append(FoundCase(
            case_id=seg.patient_id, patient_id=seg.patient_id, ct=ct_path, liver_mask=choice.liver or "",
            tumor_mask=choice.tumor, pets=_pets(ct.study_uid, index, subject, finding), source=subject))
    for patient in _number_repeated_patients(finding.cases):
        finding.notes.append(f"patient {patient}: several SEGs, one case each ({patient}_1, _2 …), kept in one fold")
    unused = [s for s in index.series.values() if s.modality == "CT" and s.uid not in by_series]
    if unused:
        finding.notes.append(f"{len(unused)} CT series not referenced by a usable SEG (other phases or unsegmented "
                             "studies): not used")
    return finding


def _number_repeated_patients(cases: list[FoundCase]) -> list[str]:
    """Number the case ids of patients with several cases; returns those patients."""
    counts, seen = Counter(c.patient_id for c in cases), Counter()
    for case in cases:
        if counts[case.patient_id] > 1:
            seen[case.patient_id] += 1
            case.case_id = f"{case.patient_id}_{seen[case.patient_id]}"
    return sorted(seen)
