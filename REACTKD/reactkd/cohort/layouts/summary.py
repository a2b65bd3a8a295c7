"""The summary of a manifest build: the layout and why, cases found and usable, grades, modalities, and
every problem (grouped by kind) and note."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from reactkd import GRADES
from reactkd.cohort.layouts.found import Problem, ProblemKind
from reactkd.cohort.manifest import CLINICAL_COLUMNS, CaseRecord
from reactkd.io.case import PET_TRACERS

__all__ = ["ManifestSummary"]


@dataclass
class ManifestSummary:
    """What :func:`~reactkd.cohort.layouts.build.build_manifest` found: ``records`` are the usable cases
    (each read by the case reader), ``problems`` everything left out and why."""

    root: Path
    layout: str
    layout_reason: str
    found: int
    records: list[CaseRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    clinical: Path | None = None

    def kinds(self) -> Counter:
        """``ProblemKind → count``."""
        return Counter(p.kind for p in self.problems)

    def _short(self, subject: str) -> str:
        """A path under the root without the root (the summary's lines stay readable)."""
        prefix = os.path.join(str(self.root), "")
        return subject[len(prefix):] if subject.startswith(prefix) else subject

    def lines(self) -> list[str]:
        """The summary as printed by ``reactkd manifest``."""
        records = self.records
        grades = Counter(r.grade for r in records)
        out = [f"layout: {self.layout} ({self.layout_reason})",
               f"cases: {self.found} found, {len(records)} usable",
               "grades: " + " · ".join([f"G{g} {grades[g]}" for g in GRADES] + [f"none {grades[None]}"]),
               "modalities: " + " · ".join(
                   [f"CT {len(records)}", f"tumour mask {sum(bool(r.tumor_mask) for r in records)}"]
                   + [f"PET {t} {sum(t in r.pets for r in records)}" for t in PET_TRACERS])]
        if self.clinical is not None:
            out.append(f"clinical ({self.clinical.name}): " + " · ".join(
                f"{c} {sum(c in r.clinical for r in records)}" for c in CLINICAL_COLUMNS))
        out.append(f"problems: {len(self.problems)}" + (" (each names what was left out)" if self.problems else ""))
        for kind in ProblemKind:
            listed = [p for p in self.problems if p.kind is kind]
            if listed:
                out.append(f"  {kind.value} ({len(listed)}):")
                out += [f"    {self._short(p.subject)}: {p.reason}" for p in listed]
        if self.notes:
            out.append(f"notes: {len(self.notes)}")
            out += [f"  {self._short(n)}" for n in self.notes]
        return out
