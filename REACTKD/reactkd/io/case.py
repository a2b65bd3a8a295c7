"""A case as read from disk: CT, PETs by tracer, liver and tumour masks, all with world geometry."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import SimpleITK as sitk

from reactkd.io.geometry import overlap_fraction
from reactkd.io.images import read_image, validate_direction, validate_image
from reactkd.io.masks import MIN_OVERLAP, MaskSpec, mask_onto, read_mask

__all__ = ["Case", "load_case", "PET_TRACERS", "NEGATIVE_PET_WARNING"]

NEGATIVE_PET_WARNING = 0.01
"""Share of negative PET voxels above which a warning is given (uptake is never negative; reconstruction
noise leaves a few slightly negative voxels, a wrong rescale or a CT passed as PET leaves many)."""

PET_TRACERS = ("fdg", "acetate")
"""Tracer order of PET channels in tensors (dual-tracer PET/CT: 18F-FDG and 11C-acetate)."""


@dataclass
class Case:
    """One imaging study.

    Attributes:
        case_id: unique id of the study.
        patient_id: the patient (folds never split a patient).
        grade: Edmondson–Steiner grade 1/2/3, or ``None`` when unknown (inference).
        ct: CT in HU (any pixel type), defining the case's reference grid.
        pets: tracer name → PET image on its own grid (resampled later, straight onto the model grid).
        liver: uint8 0/1 mask on the CT grid.
        tumor: uint8 0/1 mask on the CT grid (all zero when the case has no tumour mask).
    """

    case_id: str
    patient_id: str
    grade: int | None
    ct: sitk.Image
    liver: sitk.Image
    tumor: sitk.Image
    pets: dict[str, sitk.Image] = field(default_factory=dict)


def load_case(
    ct: str | os.PathLike | sitk.Image,
    liver: str | os.PathLike | MaskSpec | sitk.Image,
    tumor: str | os.PathLike | MaskSpec | sitk.Image | None = None,
    pets: dict[str, str | os.PathLike | sitk.Image] | None = None,
    case_id: str = "case",
    patient_id: str | None = None,
    grade: int | None = None,
) -> Case:
    """Read and check a case; masks are brought onto the CT grid (nearest neighbour, world space).

    Images may be given as paths or as SimpleITK images already in memory (e.g. from a Slicer scene).

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a bad image (see :func:`reactkd.io.read_image`), an unknown tracer, a PET or mask
            that does not overlap the CT, or a grade outside 1/2/3. Messages name ``case_id``.

    Warns:
        UserWarning: a PET without any positive uptake or with many negative voxels, a tumour mask that
            lies entirely outside the liver, a mask partly outside the CT (see :func:`reactkd.io.mask_onto`).
    """
    if grade is not None and grade not in (1, 2, 3):
        raise ValueError(f"case {case_id}: `grade` must be 1, 2 or 3, got {grade!r}.")
    ct_image = ct if isinstance(ct, sitk.Image) else read_image(ct, role=f"case {case_id}: CT")
    if isinstance(ct, sitk.Image):
        validate_image(ct_image, role=f"case {case_id}: CT")

    def mask(source, role: str) -> sitk.Image:
        if isinstance(source, sitk.Image):
            name = f"case {case_id}: {role} mask"
            if source.GetDimension() != 3:
                raise ValueError(f"{name}: expected a 3-D image, got {source.GetDimension()}-D.")
            validate_direction(source.GetDirection(), name)
            binary = sitk.Cast(sitk.NotEqual(source, 0), sitk.sitkUInt8)
            return mask_onto(binary, ct_image, name)
        return read_mask(source, role=f"case {case_id}: {role}", reference=ct_image)

    liver_image = mask(liver, "liver")
    if tumor is None:
        tumor_image = sitk.Image(ct_image.GetSize(), sitk.sitkUInt8)
        tumor_image.CopyInformation(ct_image)
    else:
        tumor_image = mask(tumor, "tumor")

    pet_images: dict[str, sitk.Image] = {}
    for tracer, source in (pets or {}).items():
        key = tracer.lower()
        if key not in PET_TRACERS:
            raise ValueError(f"case {case_id}: unknown PET tracer {tracer!r}; known tracers are {list(PET_TRACERS)}.")
        role = f"case {case_id}: PET {key}"
        image = source if isinstance(source, sitk.Image) else read_image(source, role=role)
        if isinstance(source, sitk.Image):
            validate_image(image, role=role)
        _warn_on_pet_values(image, role)
        if overlap_fraction(image, ct_image) < MIN_OVERLAP:
            raise ValueError(
                f"{role}: its world geometry does not overlap the CT (origin {np.round(image.GetOrigin(), 1).tolist()}"
                f" vs CT origin {np.round(ct_image.GetOrigin(), 1).tolist()}); another scan or frame of reference?"
            )
        pet_images[key] = image
    _warn_on_tumor_outside_liver(liver_image, tumor_image, case_id)
    return Case(case_id, patient_id or case_id, grade, ct_image, liver_image, tumor_image, pet_images)


def _warn_on_pet_values(image: sitk.Image, role: str) -> None:
    values = sitk.GetArrayViewFromImage(image)
    if not np.any(values > 0):
        what = "zero" if not np.any(values) else "zero or negative"
        warnings.warn(f"{role}: no voxel has positive uptake (all {what});"
                      " an empty or wrongly rescaled PET?", UserWarning, stacklevel=3)
        return
    negative = float(np.count_nonzero(values < 0)) / values.size
    if negative > NEGATIVE_PET_WARNING:
        warnings.warn(f"{role}: {100 * negative:.0f} % of the voxels are negative (uptake cannot be); a CT passed as "
                      "PET, or a wrong rescale slope/intercept?", UserWarning, stacklevel=3)


def _warn_on_tumor_outside_liver(liver: sitk.Image, tumor: sitk.Image, case_id: str) -> None:
    t = sitk.GetArrayViewFromImage(tumor) != 0
    if t.any() and not np.any(t & (sitk.GetArrayViewFromImage(liver) != 0)):
        warnings.warn(f"case {case_id}: the tumour mask lies entirely outside the liver mask (masks swapped, or "
                      "from another scan?).", UserWarning, stacklevel=3)
