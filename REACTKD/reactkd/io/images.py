"""Read 3-D medical images (NIfTI, NRRD, MHA, a DICOM series) as SimpleITK images, loudly validated.

Every image keeps its world geometry (origin, spacing, direction; LPS millimetres, ITK's convention).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

from reactkd.io.raw import check_dicom_series, check_nifti_file, is_nifti_path

__all__ = ["read_image", "validate_image", "validate_direction", "is_dicom_file", "is_dicom_seg",
           "ORTHONORMAL_TOLERANCE"]

ORTHONORMAL_TOLERANCE = 1e-3
"""Largest entry of ``DᵀD − I`` accepted for a direction matrix ``D`` (float32 headers round to ~1e-6)."""

# DICOM Segmentation Storage SOP class (PS3.4 B.5); a SEG is a mask, never an intensity image.
SEG_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.66.4"


def is_dicom_file(path: Path) -> bool:
    """True if ``path`` is a file with the DICOM preamble (``DICM`` at byte 128)."""
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def is_dicom_seg(path: Path) -> bool:
    """True if ``path`` is a DICOM Segmentation object."""
    if not (path.is_file() and is_dicom_file(path)):
        return False
    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    return str(getattr(ds, "SOPClassUID", "")) == SEG_SOP_CLASS_UID


def _read_dicom_series(folder: Path, role: str, series_uid: str | None = None) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    uids = list(reader.GetGDCMSeriesIDs(str(folder)))
    if not uids:
        raise ValueError(f"{role}: no DICOM series found in folder {folder}.")
    if series_uid is None:
        if len(uids) > 1:
            raise ValueError(
                f"{role}: folder {folder} holds {len(uids)} DICOM series {uids}; put one series per folder "
                "or pass a file of the wanted series."
            )
        series_uid = uids[0]
    files = reader.GetGDCMSeriesFileNames(str(folder), series_uid)
    listed = {str(Path(f).resolve()) for uid in uids for f in reader.GetGDCMSeriesFileNames(str(folder), uid)}
    unreadable = sorted(p.name for p in folder.iterdir()
                        if p.is_file() and str(p.resolve()) not in listed and is_dicom_file(p))
    if unreadable:  # GDCM leaves out files it cannot parse: the series would silently lack those slices
        raise ValueError(f"{role}: DICOM slice file(s) {unreadable[:5]} in {folder} cannot be read as part of any "
                         "series (corrupt or truncated?).")
    check_dicom_series(files, role)
    reader.SetFileNames(files)
    try:
        return reader.Execute()
    except RuntimeError as err:
        raise ValueError(f"{role}: cannot read DICOM series {series_uid} in {folder}: {err}") from err


def read_image(path: str | os.PathLike, role: str = "image") -> sitk.Image:
    """Read one 3-D scalar image and validate it.

    Args:
        path: a NIfTI/NRRD/MHA file, a folder holding one DICOM series, or one file of a DICOM series
            (the whole series it belongs to is read).
        role: what the image is (``"CT"``, ``"PET fdg"`` …), used in error messages.

    Returns:
        The image with its world geometry, pixel type as stored.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file cannot be read, is a DICOM SEG, or fails :func:`validate_image`.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{role}: file not found: {p}")
    if p.is_dir():
        image = _read_dicom_series(p, role)
    elif is_dicom_file(p):
        if is_dicom_seg(p):
            raise ValueError(f"{role}: {p} is a DICOM SEG (a segmentation), not an image; pass it as a mask.")
        uid = str(pydicom.dcmread(p, stop_before_pixels=True, specific_tags=["SeriesInstanceUID"]).SeriesInstanceUID)
        image = _read_dicom_series(p.parent, role, series_uid=uid)
    else:
        if is_nifti_path(p):
            check_nifti_file(p, role)  # ITK zero-fills a truncated file and turns NaN/inf into 0
        try:
            image = sitk.ReadImage(str(p))
        except RuntimeError as err:
            raise ValueError(f"{role}: cannot read {p} as an image: {str(err).strip().splitlines()[-1]}") from err
    validate_image(image, role=role, source=p)
    return image


def validate_image(image: sitk.Image, role: str = "image", source: str | os.PathLike | None = None) -> None:
    """Refuse images the pipeline cannot handle, naming the problem.

    Checks: exactly 3 dimensions (a 4-D time series or a 2-D slice is refused), one scalar component,
    positive finite spacing, a finite origin, an orthonormal direction matrix, at least 2 voxels along
    every axis, and no NaN/inf voxels.

    Raises:
        ValueError: naming ``role``, ``source`` and what is wrong.
    """
    where = f" ({source})" if source is not None else ""
    dim = image.GetDimension()
    size = image.GetSize()
    if dim != 3:
        raise ValueError(f"{role}{where}: expected a 3-D image, got {dim}-D with size {size}.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise ValueError(
            f"{role}{where}: expected one scalar component per voxel, got {image.GetNumberOfComponentsPerPixel()}."
        )
    if min(size) < 2:
        raise ValueError(f"{role}{where}: a 3-D volume needs at least 2 voxels per axis, got size {size}.")
    if not all(np.isfinite(image.GetSpacing())) or min(image.GetSpacing()) <= 0:
        raise ValueError(f"{role}{where}: spacing must be positive and finite, got {image.GetSpacing()}.")
    if not all(np.isfinite(image.GetOrigin())):
        raise ValueError(f"{role}{where}: origin must be finite, got {image.GetOrigin()}.")
    validate_direction(image.GetDirection(), f"{role}{where}")
    array = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(array.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise ValueError(f"{role}{where}: {bad} voxel(s) are NaN or infinite.")


def validate_direction(direction, name: str) -> None:
    """Refuse a direction matrix (row-major 9 numbers, ITK's layout) that is not orthonormal.

    The determinant alone is not enough: a shear ``[[1, s, 0], [0, 1, 0], [0, 0, 1]]`` has determinant 1
    but is no rotation, and reading voxels through it changes volumes and distances. Orthonormal means
    ``DᵀD = I`` (to :data:`ORTHONORMAL_TOLERANCE`).

    Raises:
        ValueError: ``"{name}: direction matrix is not orthonormal …"``.
    """
    d = np.asarray(direction, dtype=float).reshape(3, 3)
    if not np.all(np.isfinite(d)):
        raise ValueError(f"{name}: direction matrix has non-finite entries: {d.tolist()}.")
    error = float(np.abs(d.T @ d - np.eye(3)).max())
    if error > ORTHONORMAL_TOLERANCE:
        raise ValueError(
            f"{name}: direction matrix is not orthonormal (a sheared or scaled frame, |DᵀD − I| = {error:.3g}): "
            f"{np.round(d, 4).tolist()}; voxel volumes and distances would be wrong."
        )
