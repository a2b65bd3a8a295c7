"""Volume nodes ↔ SimpleITK images and numpy arrays, keeping world geometry.

Slicer stores a volume as ``vtkImageData`` (voxel order I fastest, so the numpy view is ``(K, J, I)`` =
``(Z, Y, X)``, the same order as ``sitk.GetArrayFromImage``) plus an IJK→RAS matrix. Files and ITK use
LPS. With ``F = diag(-1, -1, 1)``: ``RAS = F · LPS``, so ``IJKToRAS = F · [D·diag(spacing) | origin]``
where ``D`` and ``origin`` are the ITK direction and origin (LPS).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import vtk
from vtk.util import numpy_support

__all__ = ["LPS_TO_RAS", "ijk_to_ras_from_sitk", "sitk_geometry_from_ijk_to_ras", "ijk_to_ras_matrix",
           "array_from_volume", "volume_to_sitk", "update_volume_from_sitk", "lps_to_ras"]

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
"""Flips x and y: world LPS (ITK, files) ↔ RAS (Slicer). Its own inverse."""


def lps_to_ras(point) -> list[float]:
    """One point (or RAS → LPS: the flip is its own inverse)."""
    return [float(v) for v in LPS_TO_RAS @ np.asarray(point, dtype=float)]


def ijk_to_ras_from_sitk(image: sitk.Image) -> np.ndarray:
    """``(4, 4)`` IJK→RAS matrix of a SimpleITK image (I = x index, the fastest array axis)."""
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    m = np.eye(4)
    m[:3, :3] = LPS_TO_RAS @ direction @ np.diag(image.GetSpacing())
    m[:3, 3] = LPS_TO_RAS @ np.asarray(image.GetOrigin(), dtype=float)
    return m


def sitk_geometry_from_ijk_to_ras(m: np.ndarray) -> dict:
    """``spacing``, ``direction`` (LPS, row-major 9 values) and ``origin`` (LPS) from an IJK→RAS matrix."""
    lps = LPS_TO_RAS @ np.asarray(m, dtype=float)[:3]
    spacing = np.linalg.norm(lps[:, :3], axis=0)
    return {"spacing": spacing.tolist(), "direction": (lps[:, :3] / spacing).ravel().tolist(),
            "origin": lps[:, 3].tolist()}


def ijk_to_ras_matrix(volume_node) -> np.ndarray:
    """``(4, 4)`` numpy copy of a volume node's IJK→RAS matrix (parent transforms are not applied)."""
    vm = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(vm)
    return np.array([[vm.GetElement(r, c) for c in range(4)] for r in range(4)])


def array_from_volume(volume_node) -> np.ndarray:
    """A copy of the voxels, ``(Z, Y, X)`` = ``(K, J, I)``; single-component volumes only.

    Raises:
        ValueError: the node has no image data, or more than one component (e.g. an RGB volume).
    """
    image = volume_node.GetImageData() if volume_node is not None else None
    if image is None or image.GetPointData().GetScalars() is None:
        name = volume_node.GetName() if volume_node is not None else None
        raise ValueError(f"volume {name!r} holds no voxels (empty node).")
    if image.GetNumberOfScalarComponents() != 1:
        raise ValueError(f"volume {volume_node.GetName()!r} has {image.GetNumberOfScalarComponents()} components; "
                         "a CT or PET must be a single-component scalar volume.")
    shape = tuple(reversed(image.GetDimensions()))
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(shape).copy()


def volume_to_sitk(volume_node) -> sitk.Image:
    """A SimpleITK image (LPS) with the node's voxels and geometry.

    A volume under a non-linear or otherwise non-identity parent transform is refused rather than silently
    exported without it (harden the transform first).

    Raises:
        ValueError: empty or multi-component volume, or a parent transform.
    """
    transform = volume_node.GetParentTransformNode()
    if transform is not None:
        raise ValueError(f"volume {volume_node.GetName()!r} is under transform {transform.GetName()!r}; "
                         "harden the transform (Data module → right-click → Harden transform) and retry.")
    image = sitk.GetImageFromArray(array_from_volume(volume_node))
    geo = sitk_geometry_from_ijk_to_ras(ijk_to_ras_matrix(volume_node))
    image.SetSpacing(geo["spacing"])
    image.SetDirection(geo["direction"])
    image.SetOrigin(geo["origin"])
    return image


def update_volume_from_sitk(volume_node, image: sitk.Image) -> None:
    """Replace a volume node's voxels and geometry by a SimpleITK image's (deep copy)."""
    array = np.ascontiguousarray(sitk.GetArrayFromImage(image))
    vtk_image = vtk.vtkImageData()
    vtk_image.SetDimensions(*reversed(array.shape))
    scalars = numpy_support.numpy_to_vtk(array.ravel(), deep=True,
                                         array_type=numpy_support.get_vtk_array_type(array.dtype))
    vtk_image.GetPointData().SetScalars(scalars)
    m = ijk_to_ras_from_sitk(image)
    vm = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            vm.SetElement(r, c, float(m[r, c]))
    volume_node.SetIJKToRASMatrix(vm)
    volume_node.SetAndObserveImageData(vtk_image)
