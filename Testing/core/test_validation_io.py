"""Broken image files are refused before any work, with one line naming the file and the problem
(truncated NIfTI, NaN/inf hidden by ITK's NIfTI reader, DICOM series with a missing or corrupt
slice, sheared direction matrices)."""

import gzip
import time
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import make_image
from reactkd.io import load_case, read_image, read_mask

SHEAR = [1, 0.2, 0, 0, 1, 0, 0, 0, 1]  # determinant 1, not a rotation


def _write(image, path):
    sitk.WriteImage(image, str(path))
    return path


def test_truncated_nii_gz_is_refused(tmp_path):
    path = _write(make_image(np.random.default_rng(0).normal(0, 100, (20, 30, 40)).astype(np.int16)),
                  tmp_path / "ct.nii.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert sitk.ReadImage(str(path)).GetSize() == (40, 30, 20)  # ITK zero-fills: what the check guards against
    with pytest.raises(ValueError, match=r"CT \(.*ct\.nii\.gz\): the file is truncated"):
        read_image(path, role="CT")


def test_nii_gz_with_missing_data_bytes_is_refused(tmp_path):
    """A complete gzip stream whose NIfTI data is short (cut before compressing)."""
    plain = _write(make_image(np.ones((10, 10, 10), np.float32)), tmp_path / "pet.nii")
    raw = plain.read_bytes()
    path = tmp_path / "pet.nii.gz"
    path.write_bytes(gzip.compress(raw[: len(raw) - 400]))
    with pytest.raises(ValueError, match=r"PET fdg .*truncated: 3600 of 4000 data bytes present "
                                         r"\(dims \[10, 10, 10\] × 32 bit\)"):
        read_image(path, role="PET fdg")
    plain.write_bytes(raw[:-4])  # uncompressed .nii, last voxel cut
    with pytest.raises(ValueError, match=r"truncated: 3996 of 4000"):
        read_image(plain, role="PET fdg")


def _nifti_with(tmp_path, name, value):
    """A float32 NIfTI holding ``value`` at one voxel (written through the raw bytes: ITK's writer keeps
    NaN, its reader is what hides it)."""
    path = tmp_path / name
    array = np.zeros((6, 7, 8), np.float32)
    array[2, 3, 4] = value
    sitk.WriteImage(make_image(array), str(path))
    assert np.isfinite(sitk.GetArrayFromImage(sitk.ReadImage(str(path)))).all()  # the reader hides it
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_in_nifti_are_refused(tmp_path, value):
    path = _nifti_with(tmp_path, "pet.nii.gz", value)
    with pytest.raises(ValueError, match=r"PET fdg \(.*pet\.nii\.gz\): 1 voxel\(s\) are NaN or infinite"):
        read_image(path, role="PET fdg")


def test_nan_in_nifti_mask_and_in_simulate_dose_input(tmp_path, capsys):
    from reactkd.cli import main

    path = _nifti_with(tmp_path, "liver.nii.gz", np.nan)
    with pytest.raises(ValueError, match=r"liver mask .*NaN"):
        read_mask(path, role="liver")
    assert main(["simulate-dose", "--ct", str(path), "--level", "mild", "--out", str(tmp_path / "low.nii.gz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NaN or infinite" in err and "liver.nii.gz" in err


def _dicom_series(folder, n=6, spacing_z=2.5):
    """A CT series of ``n`` slices written slice by slice (SimpleITK's DICOM series example)."""
    folder.mkdir()
    array = (np.arange(n * 8 * 9).reshape(n, 8, 9) % 200).astype(np.int16)
    volume = make_image(array, spacing=(0.8, 0.8, spacing_z), origin=(-10, 20, 30))
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series = "1.2.826.0.1.3680043.2.1125." + time.strftime("%H%M%S")
    paths = []
    for i in range(n):
        s = volume[:, :, i]
        for tag, value in [("0008|0060", "CT"), ("0020|000e", series), ("0020|000d", series + ".1"),
                           ("0020|0037", "1\\0\\0\\0\\1\\0"), ("0028|0030", "0.8\\0.8"),
                           ("0020|0032", "\\".join(map(str, volume.TransformIndexToPhysicalPoint((0, 0, i))))),
                           ("0020|0013", str(i)), ("0018|0050", str(spacing_z)),
                           ("0008|0018", f"{series}.{i + 10}")]:
            s.SetMetaData(tag, value)
        paths.append(folder / f"{i:02d}.dcm")
        writer.SetFileName(str(paths[-1]))
        writer.Execute(s)
    return paths


def test_dicom_series_reads_when_whole(tmp_path):
    _dicom_series(tmp_path / "s")
    image = read_image(tmp_path / "s", role="CT")
    assert image.GetSize() == (9, 8, 6) and np.allclose(image.GetSpacing(), (0.8, 0.8, 2.5))


def test_dicom_series_with_a_missing_slice_is_refused(tmp_path):
    paths = _dicom_series(tmp_path / "s")
    paths[3].unlink()
    with pytest.raises(ValueError, match=r"CT: uneven DICOM slice spacing: 5\.00 mm between 02\.dcm and 04\.dcm "
                                         r"where the others are 2\.50 mm"):
        read_image(tmp_path / "s", role="CT")


def test_dicom_series_with_a_corrupt_slice_is_refused(tmp_path):
    paths = _dicom_series(tmp_path / "s")
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) - 60])  # pixel data cut short
    with pytest.raises(ValueError, match=r"CT: DICOM slice .*02\.dcm"):
        read_image(tmp_path / "s", role="CT")


def test_sheared_direction_with_unit_determinant_is_refused(tmp_path):
    image = make_image(np.zeros((4, 5, 6), np.int16), direction=SHEAR)
    assert abs(np.linalg.det(np.reshape(SHEAR, (3, 3))) - 1) < 1e-12
    path = _write(image, tmp_path / "ct.nrrd")
    with pytest.raises(ValueError, match=r"CT \(.*ct\.nrrd\): direction matrix is not orthonormal \(a sheared"):
        read_image(path, role="CT")
    with pytest.raises(ValueError, match=r"case S: CT: direction matrix is not orthonormal"):
        load_case(image, image, case_id="S")


def test_sheared_mask_is_refused(tmp_path, toy_case_images):
    t = toy_case_images
    liver = sitk.Image(t["liver"])
    liver.SetDirection(SHEAR)
    with pytest.raises(ValueError, match=r"case M: liver mask: direction matrix is not orthonormal"):
        load_case(t["ct"], liver, case_id="M")
    path = _write(liver, tmp_path / "liver.nrrd")
    with pytest.raises(ValueError, match=r"liver mask .*liver\.nrrd.*not orthonormal"):
        load_case(t["ct"], path, case_id="M")


def test_rotated_direction_is_accepted(tmp_path):
    c, s = np.cos(0.3), np.sin(0.3)
    image = make_image(np.zeros((4, 5, 6), np.int16), direction=[c, -s, 0, s, c, 0, 0, 0, 1])
    read_image(_write(image, tmp_path / "ct.nrrd"), role="CT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(_write(image, tmp_path / "ct.nii.gz"), role="CT")
