"""Volume nodes ↔ SimpleITK: voxels and IJK↔RAS geometry (LPS in files, RAS in Slicer)."""

import numpy as np
import pytest
import SimpleITK as sitk
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.geometry import ijk_to_ras_matrix, lps_to_ras, update_volume_from_sitk, volume_to_sitk


def test_real_ct_read_by_slicer_exports_as_itk_reads_it(scene, real_ct_path, load_volume):
    node = load_volume(scene, real_ct_path)
    exported = volume_to_sitk(node)
    reference = sitk.ReadImage(str(real_ct_path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(exported), sitk.GetArrayFromImage(reference))
    np.testing.assert_allclose(exported.GetSpacing(), reference.GetSpacing(), atol=1e-5)
    np.testing.assert_allclose(exported.GetOrigin(), reference.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(exported.GetDirection(), reference.GetDirection(), atol=1e-6)


def test_oblique_volume_round_trip_and_voxel_positions(scene):
    rng = np.random.default_rng(1)
    array = rng.integers(-1000, 1000, (7, 9, 11)).astype(np.int16)
    image = sitk.GetImageFromArray(array)
    angle = np.deg2rad(20)
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    image.SetDirection(rot.ravel().tolist())
    image.SetSpacing((0.7, 0.9, 2.5))
    image.SetOrigin((12.0, -30.0, 55.0))
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "oblique")
    update_volume_from_sitk(node, image)
    # the node's own IJK→RAS puts voxel (i, j, k) where ITK puts it, x and y flipped
    m = ijk_to_ras_matrix(node)
    for ijk in [(0, 0, 0), (10, 8, 6), (3, 5, 2)]:
        ras = (m @ np.array([*ijk, 1.0]))[:3]
        np.testing.assert_allclose(ras, lps_to_ras(image.TransformIndexToPhysicalPoint(ijk)), atol=1e-9)
    back = volume_to_sitk(node)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), array)
    np.testing.assert_allclose(back.GetDirection(), image.GetDirection(), atol=1e-9)
    np.testing.assert_allclose(back.GetOrigin(), image.GetOrigin(), atol=1e-9)


def test_volume_under_a_transform_is_refused(scene):
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "moved")
    update_volume_from_sitk(node, sitk.Image(4, 4, 4, sitk.sitkInt16))
    transform = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    node.SetAndObserveTransformNodeID(transform.GetID())
    with pytest.raises(ValueError, match="harden the transform"):
        volume_to_sitk(node)


def test_empty_volume_named_in_the_error(scene):
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "nothing")
    with pytest.raises(ValueError, match="'nothing' holds no voxels"):
        volume_to_sitk(node)
