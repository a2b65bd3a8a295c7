"""What a layout finds under a cohort's root folder: candidate cases, and the problems that left something out.

A :class:`FoundCase` is a case as the layout saw it (paths, mask selectors, patient), not yet checked;
a :class:`Problem` names a file, case, patient or table row and why it was left out of the manifest
(never silently); a note says what was ignored or assumed without leaving a case out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

__all__ = ["FoundCase", "Problem", "ProblemKind", "Finding"]


class ProblemKind(str, Enum):
    """Why something is left out of the manifest (the summary groups problems by kind)."""

    UNREADABLE = "unreadable file"
    MISSING_SERIES = "referenced series not in the tree"
    NOT_CT = "referenced series is not a CT"
    NO_LIVER = "no liver segment or mask"
    AMBIGUOUS = "ambiguous inputs"
    INCOMPLETE = "incomplete case"
    DUPLICATE_CASE = "duplicate case"
    CHECK_FAILED = "input check failed"
    NO_CLINICAL_ROW = "case without a clinical row"
    CLINICAL_ROW_WITHOUT_CASE = "clinical row without a case"
    GRADE_UNPARSED = "grade value does not parse"
    NO_GRADE = "no grade given"
    DUPLICATE_PATIENT = "duplicate patient"


@dataclass(frozen=True)
class Problem:
    """``subject`` (a file, case, patient or table row) and ``reason``; ``kind`` groups it in the summary."""

    kind: ProblemKind
    subject: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.kind.value}] {self.subject}: {self.reason}"


@dataclass
class FoundCase:
    """One candidate case: what a manifest row needs, paths absolute, masks as ``PATH[:LABEL]`` selectors
    that :func:`reactkd.io.read_mask` accepts. ``source`` names what it was found from (for messages)."""

    case_id: str
    patient_id: str
    ct: Path
    liver_mask: str
    tumor_mask: str | None = None
    pets: dict[str, Path] = field(default_factory=dict)
    source: str = ""
    grade: int | None = None
    clinical: dict[str, str] = field(default_factory=dict)


@dataclass
class Finding:
    """What one layout found: ``cases`` to check, ``problems`` (each left something out), ``notes``."""

    layout: str
    cases: list[FoundCase] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problem(self, kind: ProblemKind, subject: str | Path, reason: str) -> None:
        self.problems.append(Problem(kind, str(subject), reason))
