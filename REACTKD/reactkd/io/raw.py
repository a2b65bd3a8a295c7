"""Checks on the raw bytes of image files, where ITK's readers hide a problem.

- NIfTI: ITK reads a truncated ``.nii.gz`` with the missing part filled with zeros, and turns NaN/inf
  voxels into 0, so neither can be seen in the image it returns. :func:`check_nifti_file` reads the
  header with nibabel (the NIfTI-1/-2 reference reader), then streams the data bytes itself: fewer
  bytes than ``prod(dim[1:]) × bitpix / 8`` after ``vox_offset`` is a truncated file; a float voxel
  that is not finite is refused.
- DICOM series: ITK reads a series with a missing slice (it only warns about the uneven spacing, and
  the volume gets a wrong spacing) and may zero-fill a slice whose pixel data is cut short.
  :func:`check_dicom_series` reads every file's header with pydicom and refuses unreadable slices,
  pixel data shorter than Rows × Columns × samples × BitsAllocated / 8, repeated slice positions and
  uneven slice spacing (positions projected onto the slice normal, DICOM PS3.3 C.7.6.2.1.1).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom

__all__ = ["check_nifti_file", "check_dicom_series", "is_nifti_path", "SPACING_TOLERANCE"]

SPACING_TOLERANCE = 0.1
"""Largest relative deviation of one slice gap from the median gap (10 %; a missing slice doubles it)."""

_CHUNK = 1 << 24  # 16 MiB of data per read: the check never holds a second copy of a big volume


def is_nifti_path(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def check_nifti_file(path: str | os.PathLike, role: str = "image") -> None:
    """Refuse a NIfTI file whose data is truncated or holds NaN/inf voxels.

    Raises:
        ValueError: ``"{role} ({path}): …"`` naming the problem (bytes present vs expected, or how many
            voxels are not finite).
    """
    path = Path(path)
    where = f"{role} ({path})"
    try:
        image = nib.load(str(path))
    except Exception as err:  # nibabel raises several types for a bad header
        raise ValueError(f"{where}: cannot read its NIfTI header: {str(err).strip().splitlines()[0]}") from None
    shape = tuple(int(s) for s in image.shape)
    dtype = image.header.get_data_dtype()
    offset = int(image.dataobj.offset)
    expected = int(np.prod(shape)) * dtype.itemsize
    is_float = np.issubdtype(dtype, np.floating)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    have, bad = 0, 0
    try:
        with opener(path, "rb") as f:
            f.seek(offset)
            pending = b""
            while have < expected:
                chunk = f.read(min(_CHUNK, expected - have))
                if not chunk:
                    break
                have += len(chunk)
                if is_float:
                    pending += chunk
                    usable = len(pending) - len(pending) % dtype.itemsize
                    bad += int(np.count_nonzero(~np.isfinite(np.frombuffer(pending[:usable], dtype=dtype))))
                    pending = pending[usable:]
            if opener is gzip.open and have == expected:
                while f.read(_CHUNK):  # to the end of the stream: a missing gzip trailer (CRC, size) is a cut too
                    pass
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as err:
        raise ValueError(
            f"{where}: the file is truncated or corrupt ({str(err).strip() or type(err).__name__}) after "
            f"{have} of {expected} data bytes; re-export or copy it again."
        ) from None
    if have < expected:
        raise ValueError(
            f"{where}: the file is truncated: {have} of {expected} data bytes present (dims {list(shape)} × "
            f"{dtype.itemsize * 8} bit); re-export or copy it again."
        )
    if bad:
        raise ValueError(f"{where}: {bad} voxel(s) are NaN or infinite.")


_COMPRESSED_PREFIXES = ("1.2.840.10008.1.2.4.", "1.2.840.10008.1.2.5")  # JPEG family, RLE


def _slice_header(path: str, role: str):
    try:
        return pydicom.dcmread(path, force=True)
    except Exception as err:  # pydicom raises several types for a broken file
        raise ValueError(f"{role}: DICOM slice {path} cannot be read: {str(err).strip().splitlines()[0]}") from None


def _check_pixel_bytes(ds, path: str, role: str) -> None:
    if "PixelData" not in ds:
        raise ValueError(f"{role}: DICOM slice {path} holds no pixel data (a corrupt or non-image file in the series).")
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
    if syntax.startswith(_COMPRESSED_PREFIXES):
        return  # encapsulated pixel data: its length says nothing about completeness
    if not all(hasattr(ds, k) for k in ("Rows", "Columns", "BitsAllocated")):
        raise ValueError(f"{role}: DICOM slice {path} lacks Rows/Columns/BitsAllocated (a corrupt header).")
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    expected = int(ds.Rows) * int(ds.Columns) * int(getattr(ds, "SamplesPerPixel", 1)) * int(ds.BitsAllocated) // 8
    have = len(ds.PixelData)
    if have < expected * frames:
        raise ValueError(f"{role}: DICOM slice {path} is truncated: {have} of {expected * frames} pixel-data bytes.")


def check_dicom_series(files: list[str] | tuple[str, ...], role: str = "image") -> None:
    """Refuse a DICOM series with an unreadable or truncated slice, a repeated slice position, or uneven
    slice spacing (a missing slice). A single-file series (e.g. multi-frame) passes the spacing test.

    Raises:
        ValueError: naming ``role``, the slice file or the gap, and what is wrong.
    """
    positions, normal = [], None
    for path in files:
        ds = _slice_header(str(path), role)
        _check_pixel_bytes(ds, str(path), role)
        orientation = getattr(ds, "ImageOrientationPatient", None)
        position = getattr(ds, "ImagePositionPatient", None)
        if orientation is None or position is None:
            continue
        if normal is None:
            row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
            normal = np.cross(row, col)
        positions.append((float(np.dot(normal, np.asarray(position, float))), str(path)))
    if len(positions) < 3:
        return
    positions.sort()
    z = np.array([p for p, _ in positions])
    gaps = np.diff(z)
    step = float(np.median(gaps))
    for i, gap in enumerate(gaps):
        if gap < 1e-3:
            raise ValueError(f"{role}: DICOM slices {positions[i][1]} and {positions[i + 1][1]} sit at the same "
                             f"position ({z[i]:.2f} mm): two series mixed, or a duplicate slice.")
        if abs(gap - step) > SPACING_TOLERANCE * step + 1e-3:
            raise ValueError(
                f"{role}: uneven DICOM slice spacing: {gap:.2f} mm between {Path(positions[i][1]).name} and "
                f"{Path(positions[i + 1][1]).name} where the others are {step:.2f} mm (a missing or corrupt "
                "slice?); the series would be read with a wrong geometry."
            )
