"""Reading images: formats keep world geometry; bad inputs are refused with a message naming the problem."""

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import make_image
from reactkd.io import read_image, same_grid

GEO = dict(spacing=(0.8, 0.9, 2.5), origin=(-101.5, 22.0, -310.0),
           direction=[[0, 1, 0], [-1, 0, 0], [0, 0, 1]])  # a rotated (non-identity) direction


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_geometry_round_trip(tmp_path, suffix):
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(make_image(array, **GEO), str(path))
    image = read_image(path, role="CT")
    assert same_grid(image, make_image(array, **GEO))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), array)


def test_dicom_series_folder_and_single_file(real_dir):
    folder = real_dir / "dcmqi" / "ct-3slice"
    a = read_image(folder, role="CT")
    b = read_image(folder / "02.dcm", role="CT")  # one file reads its whole series
    assert a.GetSize() == (512, 512, 3)
    assert same_grid(a, b)
    assert np.allclose(a.GetSpacing(), (0.810547, 0.810547, 1.0), atol=1e-4)


def test_missing_file_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CT: file not found: .*nope\.nii\.gz"):
        read_image(tmp_path / "nope.nii.gz", role="CT")


def test_2d_image_refused(tmp_path):
    path = tmp_path / "slice.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((5, 6), np.int16)), str(path))
    with pytest.raises(ValueError, match="expected a 3-D image, got 2-D"):
        read_image(path, role="CT")


def test_4d_image_refused(tmp_path):
    path = tmp_path / "series.nii.gz"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 3, 4, 5), np.float32), isVector=False), str(path))
    with pytest.raises(ValueError, match="expected a 3-D image, got 4-D"):
        read_image(path, role="PET fdg")


def test_nan_voxels_refused(tmp_path):
    array = np.zeros((4, 5, 6), np.float32)
    array[1, 2, 3] = np.nan
    array[0, 0, 0] = np.inf
    path = tmp_path / "pet.nrrd"  # (ITK's NIfTI writer turns NaN into 0; NRRD keeps it)
    sitk.WriteImage(make_image(array), str(path))
    with pytest.raises(ValueError, match=r"PET fdg .*2 voxel\(s\) are NaN or infinite"):
        read_image(path, role="PET fdg")


def test_vector_image_refused(tmp_path):
    path = tmp_path / "rgb.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((3, 4, 5, 3), np.uint8), isVector=True), str(path))
    with pytest.raises(ValueError, match="one scalar component"):
        read_image(path, role="CT")


def test_unreadable_file(tmp_path):
    path = tmp_path / "junk.nii.gz"
    path.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read"):
        read_image(path, role="CT")


def test_dicom_seg_is_not_an_image(real_dir):
    with pytest.raises(ValueError, match="is a DICOM SEG"):
        read_image(real_dir / "dcmqi" / "liver.dcm", role="CT")
