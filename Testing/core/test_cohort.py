"""Manifests, patient-level folds, the preprocessed-case cache and batch collation."""

import csv

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from reactkd.cohort import (
    CaseDataset,
    CaseRecord,
    ManifestError,
    PreprocessCache,
    collate_cases,
    patient_folds,
    read_manifest,
    write_manifest,
)
from reactkd.preprocess import PreprocessConfig

COLUMNS = ["patient_id", "case_id", "grade", "ct", "pet_fdg", "liver_mask", "tumor_mask"]


@pytest.fixture
def files(tmp_path, toy_case_images):
    t = toy_case_images
    sitk.WriteImage(t["ct"], str(tmp_path / "ct.nii.gz"))
    sitk.WriteImage(t["liver"], str(tmp_path / "liver.nii.gz"))
    sitk.WriteImage(t["tumor"], str(tmp_path / "tumor.nii.gz"))
    return tmp_path


def _write(path, rows, columns=COLUMNS):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)
    return path


def test_manifest_lists_every_broken_row(files):
    path = _write(files / "m.csv", [
        ["P1", "C1", "2", "ct.nii.gz", "", "liver.nii.gz", "tumor.nii.gz"],
        ["P2", "C2", "4", "ct.nii.gz", "", "liver.nii.gz", ""],
        ["P3", "C1", "1", "missing.nii.gz", "", "liver.nii.gz", ""],
        ["", "C4", "2", "ct.nii.gz", "pet.nii.gz", "liver.nii.gz:1", ""],
    ])
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    text = str(err.value)
    assert "3 problem(s)" in text
    assert "row 3 (C2): `grade` must be 1, 2 or 3, got '4'" in text
    assert "row 4 (C1): duplicate case_id (also row 2); `ct` file not found" in text
    assert "row 5 (C4): empty `patient_id`" in text and "`pet_fdg` file not found" in text


def test_manifest_missing_and_unknown_columns(files):
    with pytest.raises(ManifestError, match=r"missing column\(s\) \['grade'\]"):
        read_manifest(_write(files / "a.csv", [], ["patient_id", "case_id", "ct", "liver_mask"]))
    path = _write(files / "b.csv", [["P1", "C1", "1", "ct.nii.gz", "liver.nii.gz", "x"]],
                  ["patient_id", "case_id", "grade", "ct", "liver_mask", "pet_psma"])
    with pytest.raises(ManifestError, match=r"unknown column\(s\) \['pet_psma'\]"):
        read_manifest(path)
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        read_manifest(files / "none.csv")


def test_yaml_manifest_and_round_trip(files):
    (files / "m.yaml").write_text(
        "cases:\n  - {patient_id: P1, case_id: C1, grade: 3, ct: ct.nii.gz, liver_mask: liver.nii.gz,"
        " tumor_mask: tumor.nii.gz, pets: {FDG: ct.nii.gz}, age: 61}\n")
    (rec,) = read_manifest(files / "m.yaml")
    assert rec.grade == 3 and rec.pets["fdg"] == files / "ct.nii.gz" and rec.clinical == {"age": "61"}
    out = write_manifest([rec], files / "sub" / "x.csv" if (files / "sub").mkdir() is None else None)
    (again,) = read_manifest(out)
    assert again.ct.resolve() == rec.ct.resolve() and again.pets["fdg"].resolve() == rec.pets["fdg"].resolve()
    assert "../ct.nii.gz" in out.read_text()


def _records(n_patients, per_patient=lambda i: 1 + (i % 4 == 0)):
    recs = []
    for i in range(n_patients):
        for j in range(per_patient(i)):
            recs.append(CaseRecord(f"P{i:03d}", f"P{i:03d}_{j}", 1 + i % 3, None, ""))
    return recs


def test_folds_leak_no_patient_and_are_deterministic():
    recs = _records(40)
    folds = patient_folds(recs, 3, seed=7)
    assert sorted(c for f in folds for c in f) == sorted(r.case_id for r in recs)
    owner = {r.case_id: r.patient_id for r in recs}
    patient_sets = [{owner[c] for c in f} for f in folds]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not patient_sets[a] & patient_sets[b]
    assert folds == patient_folds(list(reversed(recs)), 3, seed=7)  # row order does not matter
    assert folds != patient_folds(recs, 3, seed=8)
    grades = [[int(c[1:4]) % 3 for c in f] for f in folds]
    assert all(min(np.bincount(g, minlength=3)) >= 2 for g in grades)  # every grade in every fold


def test_folds_bad_arguments():
    with pytest.raises(ValueError, match="`n_folds` must be >= 2"):
        patient_folds(_records(5), 1)
    with pytest.raises(ValueError, match=r"exceeds the number of patients \(2\)"):
        patient_folds(_records(2), 3)


def test_cache_preprocesses_once(files, monkeypatch):
    rec = CaseRecord("P1", "C1", 2, files / "ct.nii.gz", str(files / "liver.nii.gz"), str(files / "tumor.nii.gz"))
    cfg = PreprocessConfig(grid_size=16)
    first = PreprocessCache(files / "cache", cfg).get(rec)
    assert len(list((files / "cache").glob("C1-*.npz"))) == 1
    import reactkd.cohort.cache as cache_mod

    monkeypatch.setattr(cache_mod, "preprocess_case", lambda *a, **k: pytest.fail("preprocessed twice"))
    again = PreprocessCache(files / "cache", cfg).get(rec)  # a new process: from disk, no image I/O
    np.testing.assert_array_equal(again.ct, first.ct)
    other = PreprocessCache(files / "cache", PreprocessConfig(grid_size=24))
    assert other.path(rec) != PreprocessCache(files / "cache", cfg).path(rec)  # config is part of the key


def test_dataset_and_collate_pad_graphs(files):
    cfg = PreprocessConfig(grid_size=16)
    recs = [CaseRecord("P1", "C1", 2, files / "ct.nii.gz", str(files / "liver.nii.gz"), str(files / "tumor.nii.gz")),
            CaseRecord("P2", "C2", 1, files / "ct.nii.gz", str(files / "liver.nii.gz"))]
    ds = CaseDataset(recs, PreprocessCache(None, cfg))
    batch = collate_cases([ds[0], ds[1]])
    assert batch["ct"].shape == (2, 1, 16, 16, 16) and batch["pet"].shape == (2, 2, 16, 16, 16)
    assert batch["roi_masks"].shape == (2, 3, 16, 16, 16)
    assert batch["roi_valid"].tolist() == [[True, True, True], [True, False, False]]
    assert torch.all(batch["roi_masks"][1, 1:] == 0)
    assert batch["label"].tolist() == [1, 0] and batch["case_id"] == ["C1", "C2"]
    lowdose = CaseDataset(recs, PreprocessCache(None, cfg), lowdose=lambda mi: mi.ct_hu[0] + 10)
    assert lowdose[0]["ct_lowdose"].shape == (1, 16, 16, 16)
