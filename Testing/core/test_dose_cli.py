"""``reactkd simulate-dose`` round trip and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from reactkd.cli import main


@pytest.fixture()
def ct_file(tmp_path):
    yy, xx = np.mgrid[:32, :32] - 15.5
    hu = np.where(np.hypot(yy, xx) < 13, 40, -1000)
    noise = np.random.default_rng(0).normal(0, 10, (3, 32, 32))  # a CT shows noise: it sets the fluence
    image = sitk.GetImageFromArray(np.rint(hu[None] + noise).astype(np.int16))
    image.SetSpacing((4.0, 4.0, 5.0))
    image.SetOrigin((-60.0, -50.0, 100.0))
    path = tmp_path / "ct.nii.gz"
    sitk.WriteImage(image, str(path))
    return path


@pytest.mark.parametrize("level", ["mild", "severe", "0.3"])
def test_round_trip(ct_file, tmp_path, level, capsys):
    out = tmp_path / f"low_{level}.nii.gz"
    assert main(["simulate-dose", "--ct", str(ct_file), "--level", level, "--out", str(out), "--seed", "2"]) == 0
    assert f"-> {out}" in capsys.readouterr().out
    src, low = sitk.ReadImage(str(ct_file)), sitk.ReadImage(str(out))
    assert low.GetSize() == src.GetSize() and low.GetSpacing() == src.GetSpacing()
    assert low.GetOrigin() == src.GetOrigin() and low.GetDirection() == src.GetDirection()
    diff = sitk.GetArrayFromImage(low) - sitk.GetArrayFromImage(src)
    assert 0.0 < float(np.abs(diff).mean()) < 50.0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["ct.nii.gz", out.name])  # no temp file


def test_same_seed_same_file(ct_file, tmp_path):
    outs = [tmp_path / "a.nii.gz", tmp_path / "b.nii.gz"]
    for out in outs:
        assert main(["simulate-dose", "--ct", str(ct_file), "--level", "severe", "--out", str(out)]) == 0
    a, b = (sitk.GetArrayFromImage(sitk.ReadImage(str(p))) for p in outs)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--level", "1.5"], "`--level` must be 'mild', 'severe', 'native' or a dose fraction in (0, 1], got '1.5'"),
        (["--level", "0"], "got '0'"),
        (["--level", "loud"], "got 'loud'"),
        (["--level", "mild", "--seed", "-3"], "`--seed` must be >= 0, got -3"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(ct_file, tmp_path, capsys, argv, fragment):
    code = main(["simulate-dose", "--ct", str(ct_file), "--out", str(tmp_path / "o.nii.gz"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_missing_ct_and_existing_output(ct_file, tmp_path, capsys):
    assert main(["simulate-dose", "--ct", str(tmp_path / "nope.nii.gz"), "--level", "mild",
                 "--out", str(tmp_path / "o.nii.gz")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["simulate-dose", "--ct", str(ct_file), "--level", "mild", "--out", str(ct_file)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err


def test_two_dimensional_ct_refused(tmp_path, capsys):
    path = tmp_path / "slice.nii.gz"
    sitk.WriteImage(sitk.Image(16, 16, sitk.sitkInt16), str(path))
    assert main(["simulate-dose", "--ct", str(path), "--level", "mild", "--out", str(tmp_path / "o.nii.gz")]) == 2
    assert "3-D" in capsys.readouterr().err


def test_fluence_declared_estimated_or_refused(ct_file, tmp_path, capsys):
    out = tmp_path / "o.nii.gz"
    assert main(["simulate-dose", "--ct", str(ct_file), "--level", "severe", "--out", str(out)]) == 0
    assert "(estimated from soft tissue noise" in capsys.readouterr().out
    args = ["simulate-dose", "--ct", str(ct_file), "--level", "severe", "--out", str(out), "--overwrite"]
    assert main([*args, "--fluence", "2e7", "--kernel", "hamming"]) == 0
    assert "fluence 2e+07 (given), kernel hamming" in capsys.readouterr().out
    (tmp_path / "ct.json").write_text('{"fluence": 3e6, "kernel": "shepp-logan"}')
    assert main(args) == 0
    assert "fluence 3e+06 (declared), kernel shepp-logan" in capsys.readouterr().out
    (tmp_path / "ct.json").unlink()
    flat = tmp_path / "flat.nii.gz"
    image = sitk.GetImageFromArray(np.zeros((3, 32, 32), np.int16))
    sitk.WriteImage(image, str(flat))
    assert main(["simulate-dose", "--ct", str(flat), "--level", "mild", "--out", str(tmp_path / "f.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert "cannot estimate the CT's fluence" in err and "--fluence" in err and err.count("\n") == 1
