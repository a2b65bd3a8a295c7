"""The segments a segmentation file declares (number or label value, and label), read from its header only."""

from __future__ import annotations

from pathlib import Path

import pydicom
import slicerio

from reactkd.cohort.layouts.segments import Segment
from reactkd.io.images import is_dicom_seg

__all__ = ["dicom_seg_segments", "seg_nrrd_segments", "declared_segments", "is_named_segmentation"]


def dicom_seg_segments(ds: pydicom.Dataset) -> list[Segment]:
    """A DICOM SEG's SegmentSequence: (SegmentNumber, SegmentLabel) per segment (PS3.3 C.8.20.4)."""
    return [Segment(int(s.SegmentNumber), str(getattr(s, "SegmentLabel", "") or ""))
            for s in getattr(ds, "SegmentSequence", [])]


def seg_nrrd_segments(path: Path) -> list[Segment]:
    """A Slicer ``.seg.nrrd``'s segments: (label value, name), from the header (no voxels read)."""
    seg = slicerio.read_segmentation(str(path), skip_voxels=True)
    return [Segment(int(s.get("labelValue", 0)), str(s.get("name", s.get("id", ""))))
            for s in seg.get("segments", [])]


def is_named_segmentation(path: Path) -> bool:
    """A DICOM SEG or a Slicer ``.seg.nrrd`` (a file whose masks are chosen by segment name)."""
    return path.is_file() and (path.name.lower().endswith(".seg.nrrd") or is_dicom_seg(path))


def declared_segments(path: Path) -> tuple[list[Segment], bool]:
    """``(segments, numbered)`` of a named segmentation; ``numbered``: keys pick one segment each (DICOM
    SEG numbers; ``.seg.nrrd`` label values repeat across layers)."""
    if is_dicom_seg(path):
        return dicom_seg_segments(pydicom.dcmread(path, stop_before_pixels=True)), True
    return seg_nrrd_segments(path), False
