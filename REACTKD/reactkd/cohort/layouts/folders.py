"""The folder-per-case layout: ``ROOT/<case>/`` holds one CT, optional PETs and the masks, found by name
(:mod:`.file_roles`). ``case_id`` and ``patient_id`` are the folder's name.

Masks: a liver file and a tumour file, or one segmentation with both (a label map read with the liver and
tumour label values, a ``.seg.nrrd`` or DICOM SEG by segment label); a separate liver or tumour file wins
over the segmentation for its role. Two files for one role (two CTs, say an arterial and a venous phase)
leave the case out, named: which one is meant is not guessed. Two PETs of one tracer leave that PET out.
"""

from __future__ import annotations

from pathlib import Path

from reactkd.cohort.layouts.file_roles import FileRole, file_role
from reactkd.cohort.layouts.found import Finding, FoundCase, ProblemKind
from reactkd.cohort.layouts.lits import LabelValues
from reactkd.cohort.layouts.segment_lists import declared_segments, is_named_segmentation
from reactkd.cohort.layouts.segments import SegmentNames, choose_segments

__all__ = ["find_folders", "case_folders"]


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def case_folders(root: Path) -> list[tuple[Path, dict[str, list[tuple[Path, FileRole]]]]]:
    """Every sub-folder of ``root`` holding at least one CT-named entry, with its entries by role."""
    found = []
    for folder in (p for p in _visible(root) if p.is_dir()):
        roles: dict[str, list[tuple[Path, FileRole]]] = {}
        for entry in _visible(folder):
            role = file_role(entry)
            if role is not None and not (entry.is_dir() and not any(entry.iterdir())):
                roles.setdefault(role.role, []).append((entry, role))
        if roles.get("ct"):
            found.append((folder, roles))
    return found


def _named_role(path: Path, role: str, names: SegmentNames) -> tuple[str | None, str | None]:
    """``(selector, problem)`` for ``role`` in a named segmentation; a one-segment file named for the role
    is that role whatever its segment's label."""
    segments, numbered = declared_segments(path)
    choice = choose_segments(path, segments, names, numbered)
    if getattr(choice, role) is not None:
        return getattr(choice, role), None
    if len(segments) == 1:
        return str(path), None
    return None, choice.problems.get(role) or f"no {role} segment among {[s.label for s in segments]}"


def _masks(roles, labels: LabelValues, names: SegmentNames, finding: Finding, subject: str):
    picked = {}
    for role in ("liver", "tumor", "segmentation"):
        entries = roles.get(role, [])
        if len(entries) > 1:
            finding.problem(ProblemKind.AMBIGUOUS, subject, f"{len(entries)} files look like the {role} mask "
                            f"{[p.name for p, _ in entries]}; keep one")
            return None
        if entries:
            picked[role] = entries[0][0]
    selectors = {}
    for role in ("liver", "tumor"):
        path = picked.get(role)
        if path is not None and is_named_segmentation(path):
            selector, problem = _named_role(path, role, names)
            if problem:
                finding.problem(ProblemKind.NO_LIVER if role == "liver" else ProblemKind.AMBIGUOUS, path, problem)
                return None
            selectors[role] = selector
        elif path is not None:
            selectors[role] = str(path)
    seg = picked.get("segmentation")
    if seg is not None and len(selectors) < 2:
        if is_named_segmentation(seg):
            segments, numbered = declared_segments(seg)
            choice = choose_segments(seg, segments, names, numbered)
            for role in ("liver", "tumor"):
                if role not in selectors and role in choice.problems:
                    no_liver = role == "liver" and not choice.liver_labels
                    kind = ProblemKind.NO_LIVER if no_liver else ProblemKind.AMBIGUOUS
                    finding.problem(kind, seg, choice.problems[role])
                    return None
            found = {"liver": choice.liver, "tumor": choice.tumor}
        else:
            found = {"liver": f"{seg}:{labels.liver}", "tumor": f"{seg}:{labels.tumor}"}
        for role, selector in found.items():
            if selector is not None:
                selectors.setdefault(role, selector)
    if "liver" not in selectors:
        finding.problem(ProblemKind.NO_LIVER, subject, "no liver mask (a file named liver…, or a segmentation "
                        "named seg…/segmentation…/label… holding the liver)")
        return None
    return selectors


def find_folders(root: Path, labels: LabelValues = LabelValues(), names: SegmentNames = SegmentNames()) -> Finding:
    """One case per case folder (see the module docstring)."""
    finding = Finding("folders")
    folders = case_folders(root)
    listed = {f for f, _ in folders}
    skipped = [p.name for p in _visible(root) if p.is_dir() and p not in listed]
    if skipped:
        finding.notes.append(f"{len(skipped)} folder(s) without a CT-named entry, not cases: {skipped[:10]}")
    for folder, roles in folders:
        subject = folder.name
        if len(roles["ct"]) > 1:
            finding.problem(ProblemKind.AMBIGUOUS, subject, f"{len(roles['ct'])} entries look like the CT "
                            f"{[p.name for p, _ in roles['ct']]} (phases?); keep one per case folder")
            continue
        selectors = _masks(roles, labels, names, finding, subject)
        if selectors is None:
            continue
        pets: dict[str, list[Path]] = {}
        for path, role in roles.get("pet", []):
            pets.setdefault(role.tracer, []).append(path)
        for tracer, paths in list(pets.items()):
            if len(paths) > 1:
                finding.notes.append(f"{subject}: {len(paths)} {tracer} PETs {[p.name for p in paths]}: none used")
                del pets[tracer]
        finding.cases.append(FoundCase(
            case_id=folder.name, patient_id=folder.name, ct=roles["ct"][0][0], liver_mask=selectors["liver"],
            tumor_mask=selectors.get("tumor"), pets={t: ps[0] for t, ps in pets.items()}, source=str(folder)))
    return finding
