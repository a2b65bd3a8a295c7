"""What a file or folder in a case folder is, from its name: CT, PET (and tracer), liver mask, tumour
mask, or a segmentation holding both.

The name without its extension is split into words (letters only, case-insensitive: ``CT_venous`` →
ct, venous; ``tumour1`` → tumour). In this order:

=====================  ===========================================================  =====================
role                   words                                                       examples
=====================  ===========================================================  =====================
tumour mask            tumor, tumour, lesion, mass, hcc (+ plurals), no CT/PET word  ``tumor.nii.gz``,
                       unless a mask word is there too                              ``lesions_mask.nrrd``
liver mask             liver, and no CT/PET word unless a mask word is there too    ``liver.nii.gz``,
                                                                                    ``liver_mask.nii.gz``
PET                    pet, pt, suv, or a tracer word (fdg, acetate, 11c …); the   ``pet_fdg.nii.gz``,
                       tracer from the tracer word, FDG without one (as             ``acetate.nii.gz``,
                       ``reactkd predict --pet PATH``)                              ``PET/`` (DICOM)
segmentation           seg, segmentation, label(s), labelmap, mask(s), roi, gt     ``segmentation.seg.nrrd``,
                       (liver and tumour in one file)                               ``seg.nii.gz``, ``seg.dcm``
CT                     ct, image, img, volume, vol, scan                            ``ct.nii.gz``,
                                                                                    ``CT/`` (DICOM)
=====================  ===========================================================  =====================

Files must be images (``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``, a DICOM SEG
``.dcm``); a folder can be a CT or PET DICOM series. ``liver_ct.nii.gz`` is a CT (a CT word and no mask
word), ``ct_liver_mask.nii.gz`` a liver mask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reactkd.cohort.layouts.tracers import tracer_from_text

__all__ = ["FileRole", "file_role", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm")
CT_WORDS = {"ct", "image", "img", "volume", "vol", "scan"}
PET_WORDS = {"pet", "pt", "suv"}
MASK_WORDS = {"seg", "segmentation", "segmentations", "label", "labels", "labelmap", "mask", "masks", "roi", "gt"}
TUMOR_WORDS = {"tumor", "tumour", "lesion", "mass", "hcc"}
LIVER_WORDS = {"liver"}


@dataclass(frozen=True)
class FileRole:
    """``role`` of a path; ``tracer`` for a PET."""

    role: Literal["ct", "pet", "liver", "tumor", "segmentation"]
    tracer: str | None = None


def _stem(path: Path) -> str | None:
    name = path.name.lower()
    if path.is_dir():
        return name
    suffix = next((s for s in IMAGE_SUFFIXES if name.endswith(s)), None)
    return name[: -len(suffix)] if suffix else None


def _plain(words: set[str], vocabulary: set[str]) -> bool:
    return any(w in vocabulary or (w.endswith("s") and w[:-1] in vocabulary) for w in words)


def file_role(path: Path) -> FileRole | None:
    """The role of a file or folder in a case folder by its name (see the module docstring), or None."""
    stem = _stem(path)
    if stem is None:
        return None
    words = set(re.findall(r"[a-z]+", stem))
    tracer = tracer_from_text(stem)
    mask, ct = _plain(words, MASK_WORDS), _plain(words, CT_WORDS)
    pet = _plain(words, PET_WORDS) or tracer is not None
    if not path.is_dir():
        if _plain(words, TUMOR_WORDS) and (mask or not (ct or pet)):
            return FileRole("tumor")
        if _plain(words, LIVER_WORDS) and (mask or not (ct or pet)):
            return FileRole("liver")
    if pet and not mask:
        return FileRole("pet", tracer or "fdg")
    if mask and not path.is_dir():
        return FileRole("segmentation")
    if ct and not mask:
        return FileRole("ct")
    return None
