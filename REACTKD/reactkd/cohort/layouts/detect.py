"""Which layout a cohort folder is in (``--layout auto``), and why.

In this order: LiTS when a ``volume-N`` file is anywhere under the root; DICOM when a DICOM SEG is (the
tree's headers are read once and the index is reused); a folder per case when a sub-folder holds a
CT-named entry. A DICOM tree is tested before the case folders because TCIA's study folders carry
names such as "CT ABDOMEN", which would look like CT entries.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from reactkd.cohort.layouts.dicom_index import DicomIndex, index_dicom_tree
from reactkd.cohort.layouts.folders import case_folders
from reactkd.cohort.layouts.lits import lits_volumes

__all__ = ["Layout", "detect_layout"]


class Layout(str, Enum):
    AUTO = "auto"
    LITS = "lits"
    DICOM = "dicom"
    FOLDERS = "folders"


def detect_layout(root: Path) -> tuple[Layout, str, DicomIndex | None]:
    """``(layout, why, the DICOM index when one was read)``.

    Raises:
        ValueError: nothing under ``root`` looks like any layout (the message says what was looked for).
    """
    volumes = lits_volumes(root)
    if volumes:
        return Layout.LITS, f"{len(volumes)} volume-N file(s)", None
    index = index_dicom_tree(root)
    if index.segs:
        images = sum(len(s.files) for s in index.series.values())
        return Layout.DICOM, f"{len(index.segs)} DICOM SEG object(s) among {images} DICOM image file(s)", index
    folders = case_folders(root)
    if folders:
        return Layout.FOLDERS, f"{len(folders)} sub-folder(s) with a CT-named entry", index
    images = sum(len(s.files) for s in index.series.values())
    raise ValueError(f"{root}: no layout recognised: no volume-N file (LiTS), no DICOM SEG among {images} DICOM "
                     "image file(s) (a DICOM tree), no sub-folder with a file or folder named ct/image/volume (a "
                     "folder per case); choose one with --layout.")
