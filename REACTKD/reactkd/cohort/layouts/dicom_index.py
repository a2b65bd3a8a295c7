"""An index of a DICOM tree: every series (modality, patient, study, files) and every DICOM SEG, from the
headers only (pydicom, pixel data never read).

Files with the DICOM preamble, or named ``*.dcm``, are read; others (README, spreadsheets, NIfTI) are
counted and ignored. A file that should be DICOM and cannot be parsed is listed as unreadable.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from reactkd.cohort.layouts.segment_lists import dicom_seg_segments
from reactkd.cohort.layouts.segments import Segment
from reactkd.io.images import SEG_SOP_CLASS_UID, is_dicom_file

__all__ = ["SeriesInfo", "SegInfo", "DicomIndex", "index_dicom_tree"]

_TAGS = ["SOPClassUID", "SOPInstanceUID", "Modality", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
         "SeriesDescription", "SeriesNumber", "FrameOfReferenceUID"]


@dataclass
class SeriesInfo:
    """One image series: ``files`` sorted by path, ``instances`` its SOP Instance UIDs."""

    uid: str
    modality: str
    patient_id: str
    study_uid: str
    description: str = ""
    number: str = ""
    files: list[Path] = field(default_factory=list)
    instances: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        """How the summary names the series: ``MODALITY #number 'description' (folder)``."""
        number = f" #{self.number}" if self.number else ""
        description = f" '{self.description}'" if self.description else ""
        return f"{self.modality}{number}{description} ({self.files[0].parent})"


@dataclass
class SegInfo:
    """One DICOM SEG: the series it references (ReferencedSeriesSequence), the image instances it was
    derived from, its segments."""

    path: Path
    patient_id: str
    study_uid: str
    referenced_series: list[str]
    referenced_instances: set[str]
    segments: list[Segment]


@dataclass
class DicomIndex:
    series: dict[str, SeriesInfo] = field(default_factory=dict)
    segs: list[SegInfo] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    other_files: int = 0
    instance_series: dict[str, str] = field(default_factory=dict)
    """SOP Instance UID → Series Instance UID of every image file."""
    _folder_counts: Counter | None = field(default=None, repr=False)

    def dicom_files_in(self, folder: Path) -> int:
        """How many DICOM files (images, SEGs, unreadable ones) lie directly in ``folder`` (counted once,
        after indexing)."""
        if self._folder_counts is None:
            paths = [f for s in self.series.values() for f in s.files] + [s.path for s in self.segs]
            self._folder_counts = Counter(p.parent for p in paths + [p for p, _ in self.unreadable])
        return self._folder_counts[folder]


def _referenced(ds: pydicom.Dataset) -> tuple[list[str], set[str]]:
    """Series UIDs of ReferencedSeriesSequence (PS3.3 C.12.2) and the SOP instances listed there and in
    the per-frame / shared DerivationImageSequence → SourceImageSequence (PS3.3 C.7.6.16.2.6)."""
    series, instances = [], set()
    for item in getattr(ds, "ReferencedSeriesSequence", []):
        if getattr(item, "SeriesInstanceUID", None):
            series.append(str(item.SeriesInstanceUID))
        instances |= {str(r.ReferencedSOPInstanceUID) for r in getattr(item, "ReferencedInstanceSequence", [])}
    groups = (list(getattr(ds, "SharedFunctionalGroupsSequence", []))
              + list(getattr(ds, "PerFrameFunctionalGroupsSequence", [])))
    for group in groups:
        for derivation in getattr(group, "DerivationImageSequence", []):
            instances |= {str(s.ReferencedSOPInstanceUID) for s in getattr(derivation, "SourceImageSequence", [])}
    return series, instances


def _read_header(path: Path) -> pydicom.Dataset:
    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
    if str(getattr(ds, "SOPClassUID", "")) == SEG_SOP_CLASS_UID:
        ds = pydicom.dcmread(path, stop_before_pixels=True)  # the SEG's reference and segment sequences
    return ds


def index_dicom_tree(root: Path) -> DicomIndex:
    """Read the header of every DICOM file under ``root`` (hidden files and folders skipped)."""
    index = DicomIndex()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if not (is_dicom_file(path) or path.suffix.lower() == ".dcm"):
            index.other_files += 1
            continue
        try:
            ds = _read_header(path)
        except Exception as err:  # noqa: BLE001 - pydicom raises many types for a broken file; each is named
            text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            index.unreadable.append((path, f"cannot be read as DICOM ({text})"))
            continue
        uid, modality = str(getattr(ds, "SeriesInstanceUID", "") or ""), str(getattr(ds, "Modality", "") or "")
        if not uid or not modality:
            index.unreadable.append((path, "not a DICOM image or SEG (no SeriesInstanceUID or Modality; corrupt?)"))
            continue
        patient, study = str(getattr(ds, "PatientID", "") or ""), str(getattr(ds, "StudyInstanceUID", "") or "")
        if str(getattr(ds, "SOPClassUID", "")) == SEG_SOP_CLASS_UID:
            series_refs, instance_refs = _referenced(ds)
            index.segs.append(SegInfo(path, patient, study, series_refs, instance_refs, dicom_seg_segments(ds)))
            continue
        series = index.series.setdefault(uid, SeriesInfo(
            uid, modality, patient, study, str(getattr(ds, "SeriesDescription", "") or ""),
            str(getattr(ds, "SeriesNumber", "") or "")))
        series.files.append(path)
        if getattr(ds, "SOPInstanceUID", None):
            series.instances.add(str(ds.SOPInstanceUID))
            index.instance_series[str(ds.SOPInstanceUID)] = uid
    return index
