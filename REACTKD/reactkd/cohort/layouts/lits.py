"""The LiTS layout: ``volume-N.nii`` CTs and ``segmentation-N.nii`` label maps, anywhere under the root
(LiTS ships them in "Training Batch 1/2"), paired by N.

LiTS (Bilic et al., Med Image Anal 2023;84:102680) labels 0 background, 1 liver, 2 tumour; the label
values are configurable (:class:`LabelValues`). LiTS has no grades: the manifest's ``grade`` stays empty
unless a clinical table supplies one. LiTS's liver label leaves out the tumour voxels, so a case's liver
mask is the union of both labels (``segmentation-N.nii:1+2``): the liver with its tumours, as the region
graph expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from reactkd.cohort.layouts.found import Finding, FoundCase, ProblemKind

__all__ = ["LabelValues", "find_lits", "lits_volumes", "LITS_VOLUME"]

_EXT = r"\.(?:nii\.gz|nii|nrrd|mha|mhd)"
LITS_VOLUME = re.compile(rf"^volume-(\d+){_EXT}$", re.IGNORECASE)
LITS_SEGMENTATION = re.compile(rf"^segmentation-(\d+){_EXT}$", re.IGNORECASE)


@dataclass(frozen=True)
class LabelValues:
    """Label values of the liver and the tumour in a label map (LiTS: 1 and 2)."""

    liver: int = 1
    tumor: int = 2

    def __post_init__(self) -> None:
        if self.liver == self.tumor:
            raise ValueError(f"the liver and tumour label values must differ, got {self.liver} for both.")
        if min(self.liver, self.tumor) < 1:
            raise ValueError(f"label values must be >= 1 (0 is background), got liver {self.liver}, "
                             f"tumour {self.tumor}.")


def _visible_files(root: Path):
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def lits_volumes(root: Path) -> list[Path]:
    """The ``volume-N`` files under ``root``."""
    return [p for p in _visible_files(root) if LITS_VOLUME.match(p.name)]


def _numbered(paths: list[Path], pattern: re.Pattern, finding: Finding, what: str) -> dict[int, Path]:
    found: dict[int, list[Path]] = {}
    for p in paths:
        match = pattern.match(p.name)
        if match:
            found.setdefault(int(match.group(1)), []).append(p)
    for n, ps in found.items():
        if len(ps) > 1:
            finding.problem(ProblemKind.DUPLICATE_CASE, f"{what}-{n}", f"{len(ps)} files: {[str(p) for p in ps]}; "
                            "which one belongs to the case is a guess, so the case is left out")
    return {n: ps[0] for n, ps in found.items() if len(ps) == 1}


def find_lits(root: Path, labels: LabelValues = LabelValues()) -> Finding:
    """One case per ``volume-N`` / ``segmentation-N`` pair: ``case_id`` = ``patient_id`` = ``volume-N``,
    masks ``segmentation-N.nii:LIVER`` and ``:TUMOUR``. An unpaired file is a problem."""
    finding = Finding("lits")
    files = list(_visible_files(root))
    volumes = _numbered(files, LITS_VOLUME, finding, "volume")
    segmentations = _numbered(files, LITS_SEGMENTATION, finding, "segmentation")
    duplicated = {int(p.subject.rsplit("-", 1)[1]) for p in finding.problems}
    for n in sorted((set(volumes) | set(segmentations)) - duplicated):
        if n not in segmentations:
            finding.problem(ProblemKind.INCOMPLETE, volumes[n], f"no segmentation-{n} beside it (no liver mask)")
            continue
        if n not in volumes:
            finding.problem(ProblemKind.INCOMPLETE, segmentations[n], f"no volume-{n} (no CT)")
            continue
        seg = segmentations[n]
        finding.cases.append(FoundCase(
            case_id=f"volume-{n}", patient_id=f"volume-{n}", ct=volumes[n],
            liver_mask=f"{seg}:{labels.liver}+{labels.tumor}", tumor_mask=f"{seg}:{labels.tumor}",
            source=str(volumes[n])))
    if finding.cases:
        finding.notes.append(f"each liver mask is labels {labels.liver}+{labels.tumor}: the liver label leaves out the "
                             "tumour voxels, as in LiTS")
    return finding
