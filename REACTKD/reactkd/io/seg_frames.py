"""A DICOM SEG's chosen segments as one binary volume, built from its frames and their plane positions.

highdicom >= 0.23 does this as ``Segmentation.get_volume``. Inside 3D Slicer the installer keeps the
pydicom 2.4 that Slicer ships, with which pip resolves highdicom 0.22, which has no ``get_volume``; this
reader needs only what every highdicom/pydicom version gives: the decoded frames (``pixel_array``), each
frame's ``PlanePositionSequence`` and ``SegmentIdentificationSequence``, and the shared
``PlaneOrientationSequence`` / ``PixelMeasuresSequence`` (DICOM PS3.3 C.8.20 Segmentation IOD, and the
multi-frame functional groups of C.7.6.16).

Frames of one plane position (several segments) are OR-ed; planes are ordered along the slice normal and
the slice spacing is the median distance between neighbouring planes. Planes of the volume that hold no
segmented frame (DICOM SEG omits empty frames) stay 0.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

__all__ = ["segments_volume"]


def _frame_position(frame_group, shared) -> np.ndarray:
    position = getattr(frame_group, "PlanePositionSequence", None) or shared.PlanePositionSequence
    return np.asarray(position[0].ImagePositionPatient, float)


def _frame_segment(frame_group) -> int:
    return int(frame_group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)


def segments_volume(dataset, segment_numbers: list[int], name: str) -> sitk.Image:
    """The union of ``segment_numbers`` of a DICOM SEG ``dataset`` (pydicom Dataset or highdicom
    Segmentation) as a uint8 0/1 image in LPS world geometry.

    Raises:
        ValueError: the SEG has no per-frame plane positions (a tiled whole-slide SEG), or its frames lie
            in planes that are not parallel to the orientation it declares.
    """
    shared = dataset.SharedFunctionalGroupsSequence[0]
    orientation = np.asarray(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
    row, col = orientation[:3], orientation[3:]
    normal = np.cross(row, col)
    spacing_rc = [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing]  # (row spacing, column spacing)
    frames = np.asarray(dataset.pixel_array)
    frames = frames.reshape((-1, *frames.shape[-2:]))
    groups = dataset.PerFrameFunctionalGroupsSequence
    try:
        positions = np.stack([_frame_position(g, shared) for g in groups])
    except AttributeError:
        raise ValueError(f"{name}: a DICOM SEG without per-frame plane positions cannot be read as a volume.") from None
    segments = np.asarray([_frame_segment(g) for g in groups])
    depth = positions @ normal
    in_plane = positions - np.outer(depth, normal)
    if np.abs(in_plane - in_plane[0]).max() > 0.5 * min(spacing_rc):
        raise ValueError(f"{name}: its frames are not stacked along one slice normal; cannot build a volume.")
    planes = np.unique(np.round(depth, 3))
    steps = np.diff(planes)
    dz = float(np.median(steps)) if len(steps) else float(getattr(shared.PixelMeasuresSequence[0], "SliceThickness", 1))
    index = np.rint((depth - planes[0]) / dz).astype(int) if len(steps) else np.zeros(len(depth), int)
    volume = np.zeros((int(index.max()) + 1, *frames.shape[1:]), np.uint8)
    for i in np.flatnonzero(np.isin(segments, segment_numbers)):
        volume[index[i]] |= (frames[i] > 0).astype(np.uint8)
    image = sitk.GetImageFromArray(volume)
    image.SetSpacing((spacing_rc[1], spacing_rc[0], dz))
    first = int(np.argmin(depth))
    image.SetOrigin(tuple(positions[first] - (depth[first] - planes[0]) * normal))
    image.SetDirection(tuple(np.column_stack([row, col, normal]).ravel()))
    return image
