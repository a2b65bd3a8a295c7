"""Liver and tumour segments of a segmentation file with named segments (DICOM SEG, Slicer ``.seg.nrrd``),
chosen by segment label, and the ``PATH:LABEL`` selectors that :func:`reactkd.io.read_mask` reads them with.

A segment is the liver or a tumour when one of the configured names appears in its label as whole words
(case-insensitive, a plural ``s`` allowed: "Mass", "Tumor 2", "liver_lesions"); tumour names win ("Liver
tumour" is a tumour). Anything else is neither: HCC-TACE-Seg's "Portal vein" and "Abdominal aorta" are
left out of both masks. The selector names the segment label when it picks exactly the chosen segments
(``SEG:Mass``), else the segment number (``SEG:3``), else the bare file when the reader's own choice by
role names picks the same segments (several tumours labelled "Tumor 1", "Tumor 2"); otherwise the case is
left out with the reason (one selector reads one label).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reactkd.io.masks import LIVER_NAMES, TUMOR_NAMES

__all__ = ["SegmentNames", "Segment", "SegmentChoice", "choose_segments", "DEFAULT_TUMOR_SEGMENTS"]

DEFAULT_TUMOR_SEGMENTS = ("mass", "tumor", "tumour", "lesion", "hcc", "cancer", "neoplasm", "carcinoma")
"""Tumour segment names by default ("mass" is HCC-TACE-Seg's tumour)."""

Role = Literal["liver", "tumor"]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+|[0-9]+", text.lower())


def _contains(label_words: list[str], name: str) -> bool:
    """``name``'s words appear consecutively in the label's words (each may carry a plural s/es)."""
    want = _words(name)
    plural = lambda have, w: have in (w, w + "s", w + "es")  # noqa: E731
    return bool(want) and any(all(plural(label_words[i + j], w) for j, w in enumerate(want))
                              for i in range(len(label_words) - len(want) + 1))


@dataclass(frozen=True)
class SegmentNames:
    """Names that make a segment the liver or a tumour (see the module docstring)."""

    liver: tuple[str, ...] = ("liver",)
    tumor: tuple[str, ...] = DEFAULT_TUMOR_SEGMENTS

    def role(self, label: str) -> Role | None:
        words = _words(label)
        if any(_contains(words, n) for n in self.tumor):
            return "tumor"
        if any(_contains(words, n) for n in self.liver):
            return "liver"
        return None


@dataclass(frozen=True)
class Segment:
    """``key``: the DICOM SEG segment number, or the ``.seg.nrrd`` label value; ``label``: its name."""

    key: int
    label: str


@dataclass
class SegmentChoice:
    """Selectors for the liver and the tumour (None: none found or none possible), the labels of the
    segments of each role and of those that are neither, and per role why no selector exists."""

    liver: str | None = None
    tumor: str | None = None
    liver_labels: list[str] = field(default_factory=list)
    tumor_labels: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def problem(self) -> str | None:
        """The liver's problem, else the tumour's, else None."""
        return self.problems.get("liver") or self.problems.get("tumor")


def _reader_default(segments: list[Segment], role: Role) -> list[int]:
    """Indices the mask reader picks for a bare path (:mod:`reactkd.io.masks`: liver = a label containing
    "liver" and no tumour word; tumour = a label containing a tumour word)."""
    lowered = [s.label.strip().lower() for s in segments]
    is_tumor = [any(t in n for t in TUMOR_NAMES) for n in lowered]
    if role == "tumor":
        return [i for i, t in enumerate(is_tumor) if t]
    return [i for i, n in enumerate(lowered) if any(word in n for word in LIVER_NAMES) and not is_tumor[i]]


def _selector(path: Path, segments: list[Segment], chosen: list[int], role: Role, numbered: bool) -> str | None:
    labels = {segments[i].label.strip().lower() for i in chosen}
    if len(labels) == 1:
        label = segments[chosen[0]].label.strip()
        same = [i for i, s in enumerate(segments) if s.label.strip().lower() == label.lower()]
        if same == chosen and label and not re.search(r"[:/\\]", label) and not re.fullmatch(r"[+-]?\d+", label):
            return f"{path}:{label}"
    keys = [s.key for s in segments]
    if numbered and len(chosen) == 1 and keys.count(segments[chosen[0]].key) == 1:
        return f"{path}:{segments[chosen[0]].key}"
    if _reader_default(segments, role) == chosen:
        return str(path)
    return None


def choose_segments(path: Path, segments: list[Segment], names: SegmentNames = SegmentNames(),
                    numbered: bool = True) -> SegmentChoice:
    """The liver and tumour selectors of ``path`` (see the module docstring).

    Args:
        path: the segmentation file.
        segments: its segments in file order.
        names: which labels are the liver and the tumours.
        numbered: ``key`` selects one segment (DICOM SEG numbers); False where keys may repeat.
    """
    choice = SegmentChoice()
    roles = [names.role(s.label) for s in segments]
    choice.ignored = [s.label for s, r in zip(segments, roles) if r is None]
    for role in ("liver", "tumor"):
        chosen = [i for i, r in enumerate(roles) if r == role]
        getattr(choice, f"{role}_labels").extend(segments[i].label for i in chosen)
        if not chosen:
            continue
        selector = _selector(path, segments, chosen, role, numbered)
        if selector is None:
            shown = [segments[i].label for i in chosen]
            choice.problems[role] = (f"its {role} segments {shown} have different labels and the file's other segments "
                              f"get in the way of choosing them by role; a mask selector reads one segment label or "
                              f"number: merge them, or name one with --{role}-segment")
        setattr(choice, role, selector)
    if not choice.liver_labels:
        labels = [s.label for s in segments]
        choice.problems["liver"] = f"no segment label names the liver ({list(names.liver)}); its segments are {labels}"
    return choice
