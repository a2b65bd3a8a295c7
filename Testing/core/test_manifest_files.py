"""``reactkd manifest`` on NIfTI cohorts built from the real TotalSegmentator CT and label map (label 5 =
liver; the tumours are synthetic, inserted here into the real liver): the LiTS layout and a folder per
case, with a clinical XLSX table; the manifest reads back and every case loads with the case reader."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk
import slicerio
from manifest_trees import tree_hashes

from reactkd.cli import main
from reactkd.cohort.layouts import LabelValues, ManifestOptions, ProblemKind, build_manifest
from reactkd.cohort.layouts import clinical as clinical_module
from reactkd.cohort.manifest import read_manifest

pytestmark = pytest.mark.real


@pytest.fixture
def ts(real_dir):
    """The real CT path, its label map, and two synthetic tumours (balls of 4 and 3 voxels, 12 and 9 mm)
    inside the real liver, as (Z, Y, X) arrays."""
    ct_path = real_dir / "totalsegmentator" / "example_ct_sm.nii.gz"
    labels = sitk.ReadImage(str(real_dir / "totalsegmentator" / "example_seg.nii.gz"))
    liver = sitk.GetArrayFromImage(labels) == 5
    z, y, x = np.ogrid[: liver.shape[0], : liver.shape[1], : liver.shape[2]]
    centre = np.argwhere(liver).mean(0).round().astype(int)
    balls = [((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r) & liver
             for c, r in ((centre, 4), (centre + [0, 0, 9], 3))]
    return ct_path, labels, liver, balls


def _write(array: np.ndarray, like: sitk.Image, path) -> None:
    image = sitk.GetImageFromArray(array)
    image.CopyInformation(like)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)


def test_lits_pairs_with_default_and_given_labels(ts, tmp_path, capsys):
    ct_path, labels, liver, (t1, t2) = ts
    root = tmp_path / "lits"
    lits = np.where(liver, 1, 0).astype(np.uint8)  # LiTS: 1 liver, 2 tumour (the tumour leaves the liver label)
    lits[t1 | t2] = 2
    (root / "Training Batch 1").mkdir(parents=True)
    shutil.copy(ct_path, root / "Training Batch 1/volume-0.nii.gz")
    _write(lits, labels, root / "Training Batch 1/segmentation-0.nii.gz")
    (root / "Training Batch 2").mkdir()
    shutil.copy(ct_path, root / "Training Batch 2/volume-1.nii.gz")  # no segmentation-1
    (root / "Training Batch 2/._volume-3.nii").write_bytes(b"macOS resource fork")  # hidden: ignored
    before = tree_hashes(root)
    out = tmp_path / "lits.csv"
    assert main(["manifest", str(root), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert tree_hashes(root) == before
    for line in ["layout: lits (auto: 2 volume-N file(s))", "cases: 1 found, 1 usable",
                 "grades: G1 0 · G2 0 · G3 0 · none 1", "incomplete case (1)",
                 "Training Batch 2/volume-1.nii.gz: no segmentation-1 beside it",
                 "1 case(s) without a grade: for `reactkd predict --manifest`",
                 "each liver mask is labels 1+2: the liver label leaves out the tumour voxels"]:
        assert line in printed, line
    [record] = read_manifest(out, require_grade=False)  # as `predict --manifest` reads it
    assert (record.case_id, record.grade) == ("volume-0", None)
    assert record.liver_mask.endswith("segmentation-0.nii.gz:1+2") and record.tumor_mask.endswith(":2")
    case = record.load()
    assert sitk.GetArrayFromImage(case.liver).sum() == liver.sum()  # the liver with its tumours
    assert sitk.GetArrayFromImage(case.tumor).sum() == (t1 | t2).sum()

    # TotalSegmentator's own labels with a tumour label inserted: chosen with --liver-label/--tumor-label
    raw = sitk.GetArrayFromImage(labels).astype(np.uint8)
    raw[t1] = 200  # a value TotalSegmentator does not use
    _write(raw, labels, root / "Training Batch 1/segmentation-0.nii.gz")
    summary = build_manifest(root, ManifestOptions(layout="lits", labels=LabelValues(liver=5, tumor=200)))
    [record] = summary.records
    case = record.load()
    assert sitk.GetArrayFromImage(case.liver).sum() == liver.sum()
    assert sitk.GetArrayFromImage(case.tumor).sum() == t1.sum()


def _seg_nrrd(path, like: sitk.Image, segments: dict[str, np.ndarray]) -> None:
    """A Slicer .seg.nrrd on ``like``'s grid (slicerio's arrays are indexed i, j, k)."""
    d = np.asarray(like.GetDirection()).reshape(3, 3) * np.asarray(like.GetSpacing())
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3], ijk_to_lps[:3, 3] = d, like.GetOrigin()
    seg = slicerio.create_segmentation(like.GetSize(), ijk_to_lps)
    for name, mask in segments.items():
        slicerio.add_segment(seg, mask.transpose(2, 1, 0), {"name": name})
    slicerio.write_segmentation(str(path), seg)


def test_folders_with_xlsx_grades(ts, tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl", reason="XLSX tables need openpyxl (the test extra has it)")
    ct_path, labels, liver, (t1, t2) = ts
    root = tmp_path / "cases"
    for case, ct_name in [("case_a", "ct.nii.gz"), ("case_b", "CT_venous.nii.gz"), ("case_c", "ct_arterial.nii.gz"),
                          ("case_c", "ct_venous.nii.gz"), ("case_d", "image.nii.gz"), ("case_e", "ct.nii.gz")]:
        (root / case).mkdir(parents=True, exist_ok=True)
        shutil.copy(ct_path, root / case / ct_name)
    organ = liver.astype(np.uint8)
    _write(organ, labels, root / "case_a/liver.nii.gz")
    _write(t1.astype(np.uint8), labels, root / "case_a/tumor.nii.gz")
    _write(organ, labels, root / "case_c/liver.nii.gz")
    _seg_nrrd(root / "case_b/Segmentation.seg.nrrd", labels, {"Liver": liver, "Tumor 1": t1, "Tumor 2": t2})
    _write((1000.0 + 800 * (t1 | t2)).astype(np.float32), labels, root / "case_b/pet_fdg.nii.gz")
    _write(np.where(t2, 2, organ).astype(np.uint8), labels, root / "case_d/seg.nii.gz")
    (root / "docs").mkdir()
    (root / "docs/readme.txt").write_text("not a case")
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [("Patient ID", "Age", "Gender", "Grade (Edmondson-Steiner)"), ("case_a", 61, "M", "I"),
                ("case_b", 70, "F", "IV"), ("case_d", 55.0, "M", "G2"), ("case_z", 40, "F", "moderately")]:
        sheet.append(row)
    table = tmp_path / "clinical.xlsx"
    book.save(table)
    before = tree_hashes(root)
    out = tmp_path / "m.csv"
    assert main(["manifest", str(root), "--out", str(out), "--clinical", str(table)]) == 0
    printed = capsys.readouterr().out
    assert tree_hashes(root) == before
    for line in ["layout: folders (auto: 5 sub-folder(s) with a CT-named entry)", "cases: 3 found, 3 usable",
                 "grades: G1 1 · G2 1 · G3 1 · none 0", "PET fdg 1", "case_c: 2 entries look like the CT",
                 "case_e: no liver mask", "clinical.xlsx row 5: patient 'case_z' has no case",
                 "clinical (clinical.xlsx): age 3 · sex 3", "folder(s) without a CT-named entry, not cases: ['docs']"]:
        assert line in printed, line
    records = {r.case_id: r for r in read_manifest(out)}  # as `reactkd train` reads it
    assert {k: r.grade for k, r in records.items()} == {"case_a": 1, "case_b": 3, "case_d": 2}
    assert records["case_d"].clinical == {"age": "55", "sex": "M"}
    b = records["case_b"]
    assert b.liver_mask.endswith("Segmentation.seg.nrrd:Liver") and b.tumor_mask.endswith("Segmentation.seg.nrrd")
    assert set(b.pets) == {"fdg"} and records["case_d"].liver_mask.endswith("seg.nii.gz:1")
    expected_tumor = {"case_a": t1.sum(), "case_b": (t1 | t2).sum(), "case_d": t2.sum()}
    for case_id, record in records.items():
        case = record.load()
        assert sitk.GetArrayFromImage(case.tumor).sum() == expected_tumor[case_id], case_id
        assert sitk.GetArrayFromImage(case.liver).sum() == (liver & ~t2 if case_id == "case_d" else liver).sum()


def test_xlsx_without_openpyxl_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "c").mkdir()
    table = tmp_path / "clinical.xlsx"
    table.write_bytes(b"PK")
    monkeypatch.setattr(clinical_module, "openpyxl", None)
    assert main(["manifest", str(tmp_path / "c"), "--out", str(tmp_path / "m.csv"), "--clinical", str(table)]) == 2
    err = capsys.readouterr().err
    assert "reading XLSX needs openpyxl" in err and len(err.strip().splitlines()) == 1


def test_check_failure_is_named_and_left_out(ts, tmp_path):
    ct_path, labels, liver, _ = ts
    root = tmp_path / "cases"
    (root / "good").mkdir(parents=True)
    shutil.copy(ct_path, root / "good/ct.nii.gz")
    _write(liver.astype(np.uint8), labels, root / "good/liver.nii.gz")
    (root / "cut").mkdir()
    (root / "cut/ct.nii.gz").write_bytes(ct_path.read_bytes()[:50000])  # a truncated NIfTI
    _write(liver.astype(np.uint8), labels, root / "cut/liver.nii.gz")
    (root / "empty").mkdir()
    shutil.copy(ct_path, root / "empty/ct.nii.gz")
    _write(np.zeros_like(liver, np.uint8), labels, root / "empty/liver.nii.gz")
    summary = build_manifest(root)
    assert [r.case_id for r in summary.records] == ["good"]
    assert summary.kinds() == {ProblemKind.CHECK_FAILED: 2}
    text = "\n".join(summary.lines())
    assert "case cut: " in text and "truncated" in text
    assert "case empty: the liver mask is empty on the CT grid" in text and "case empty: case empty" not in text
