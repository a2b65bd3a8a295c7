"""``reactkd manifest`` on DICOM trees: the real dcmqi CT series with its DICOM SEG, and a written
HCC-TACE-Seg-like tree (two CT phases, a PET, a SEG with Liver / Mass / Portal vein / Abdominal aorta)
with every kind of problem; the manifest reads back as `train` and `predict --manifest` read it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from manifest_trees import LIVER, MASS, VEIN, new_study, tree_hashes, write_seg, write_series

from reactkd.cli import main
from reactkd.cohort.layouts import ManifestOptions, ProblemKind, SegmentNames, build_manifest
from reactkd.cohort.manifest import read_manifest
from reactkd.io import read_mask


def _copy_dcmqi(real_dir, root):
    """The real dcmqi CT series and SEG as a TCIA-style tree: patient / study / series folders."""
    study = root / "99000" / "01-01-2000-NA-CT ABDOMEN"
    shutil.copytree(real_dir / "dcmqi" / "ct-3slice", study / "2.000000-LIVER 3 PHASE-001")
    (study / "300.000000-Segmentation-002").mkdir()
    shutil.copy(real_dir / "dcmqi" / "liver.dcm", study / "300.000000-Segmentation-002" / "1-1.dcm")
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)


@pytest.mark.real
def test_real_dcmqi_series_and_seg(real_dir, tmp_path, capsys):
    root = tmp_path / "tree"
    _copy_dcmqi(real_dir, root)
    table = tmp_path / "clinical.csv"
    table.write_text("TCIA_ID,Age,Sex,Pathology,AFP\n99000,61,M,Moderately differentiated,12\n")
    before = tree_hashes(root)
    out = tmp_path / "m.csv"
    assert main(["manifest", str(root), "--out", str(out), "--clinical", str(table)]) == 0
    printed = capsys.readouterr().out
    assert "layout: dicom (auto: 1 DICOM SEG object(s) among 3 DICOM image file(s))" in printed
    assert "cases: 1 found, 1 usable" in printed and "grades: G1 0 · G2 1 · G3 0 · none 0" in printed
    assert tree_hashes(root) == before
    [record] = read_manifest(out)  # as `reactkd train` reads it: every grade present
    assert (record.patient_id, record.case_id, record.grade) == ("99000", "99000", 2)
    assert record.ct == out.parent / "tree/99000/01-01-2000-NA-CT ABDOMEN/2.000000-LIVER 3 PHASE-001"
    assert record.liver_mask.endswith("1-1.dcm:Liver") and record.tumor_mask is None
    assert record.clinical == {"age": "61", "sex": "M", "afp": "12"}
    case = record.load()
    reference = read_mask(real_dir / "dcmqi" / "liver_seg.nrrd", role="liver", reference=case.ct)
    assert sitk.GetArrayFromImage(case.liver).sum() == sitk.GetArrayFromImage(reference).sum() == 107098


def _hcc_tree(root, outside):
    """Patients as HCC-TACE-Seg ships them, plus the problems the summary must name."""
    s1 = new_study("HCC_001")
    write_series(root / "HCC_001/s/2-CT arterial", s1, description="arterial", series_number=2,
                 values=np.full((8, 24, 24), 500.0))  # the distractor phase: 500 HU everywhere
    venous = write_series(root / "HCC_001/s/3-CT portal venous", s1, series_number=3)
    write_series(root / "HCC_001/s/4-PET FDG", s1, modality="PT", series_number=4)
    write_seg(root / "HCC_001/s/300-Segmentation/1-1.dcm", venous,
              {"Liver": LIVER, "Mass": MASS, "Portal vein": VEIN, "Abdominal aorta": VEIN})
    s2 = new_study("HCC_002")  # both phases in one folder: the manifest names a file of the referenced one
    write_series(root / "HCC_002/all", s2, series_number=2, values=np.full((8, 24, 24), 500.0))
    for p in (root / "HCC_002/all").iterdir():
        p.rename(p.with_name("a" + p.name))
    delayed = write_series(root / "HCC_002/all", s2, series_number=5)
    write_seg(root / "HCC_002/seg/1-1.dcm", delayed, {"Liver": LIVER, "Mass": MASS})
    s3 = new_study("HCC_003")  # its CT series is not in the tree
    write_seg(root / "HCC_003/seg/1-1.dcm", write_series(outside / "HCC_003", s3), {"Liver": LIVER, "Mass": MASS})
    s4 = new_study("HCC_004")  # no liver segment
    write_seg(root / "HCC_004/seg/1-1.dcm", write_series(root / "HCC_004/ct", s4), {"Mass": MASS, "Portal vein": VEIN})
    (root / "HCC_005").mkdir()
    (root / "HCC_005/broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x08\x00garbage")
    for pid in ("HCC_008", "HCC_009"):  # a grade that does not parse; no clinical row
        study = new_study(pid)
        write_seg(root / pid / "seg/1-1.dcm", write_series(root / pid / "ct", study), {"Liver": LIVER, "Mass": MASS})


CLINICAL = """TCIA_ID;age;Sex;hepatitis;AFP;Pathology
HCC_001;61;M;HCV;12;Well differentiated
HCC_002;70;F;HBV;800;G3
HCC_002;70;F;HBV;800;3
HCC_004;55;M;none;3;II
HCC_006;58;F;HBV;4;moderately differentiated
HCC_007;66;M;HCV;9;II-III
HCC_008;49;M;HCV;30;high grade
"""


def test_written_tree_finds_the_referenced_phase_pet_and_every_problem(tmp_path, capsys):
    root, outside = tmp_path / "tree", tmp_path / "elsewhere"
    _hcc_tree(root, outside)
    table = tmp_path / "clinical.csv"
    table.write_text(CLINICAL)
    before = tree_hashes(root)
    out = root / "manifest.csv"  # written inside the tree: nothing else in it changes
    assert main(["manifest", str(root), "--out", str(out), "--clinical", str(table), "--cohort", "tace"]) == 0
    printed = capsys.readouterr().out
    assert tree_hashes(root, skip=(out,)) == before
    records = {r.case_id: r for r in read_manifest(out)}
    assert sorted(records) == ["HCC_001", "HCC_002"]
    one, two = records["HCC_001"], records["HCC_002"]
    assert (one.grade, two.grade) == (1, 3) and one.cohort == "tace"
    assert one.ct == root / "HCC_001/s/3-CT portal venous"
    assert one.liver_mask.endswith("1-1.dcm:Liver") and one.tumor_mask.endswith("1-1.dcm:Mass")
    assert one.pets == {"fdg": root / "HCC_001/s/4-PET FDG"} and two.pets == {}
    assert two.ct.parent == root / "HCC_002/all" and not two.ct.name.startswith("a")  # a file of the delayed series
    assert one.clinical == {"age": "61", "sex": "M", "hepatitis": "HCV", "afp": "12"}
    for record in records.values():
        case = record.load()  # the core case reader
        ct = sitk.GetArrayFromImage(case.ct)
        assert ct.shape == LIVER.shape and ct.max() < 200  # the referenced phase, not the 500 HU one
        assert sitk.GetArrayFromImage(case.liver).sum() == LIVER.sum()
        assert sitk.GetArrayFromImage(case.tumor).sum() == MASS.sum()  # the vessels are in neither mask
    assert set(records["HCC_001"].load().pets) == {"fdg"}
    for line in ["cases: 4 found, 2 usable", "grades: G1 1 · G2 0 · G3 1 · none 0",
                 "modalities: CT 2 · tumour mask 2 · PET fdg 1 · PET acetate 0",
                 "referenced series not in the tree (1)", "no liver segment or mask (1)", "unreadable file (1)",
                 "HCC_005/broken.dcm: not a DICOM image or SEG", "duplicate patient (1)",
                 "clinical row without a case (3)", "grade value does not parse (2)", "case without a clinical row (1)",
                 "patient HCC_002: 2 rows of clinical.csv (3, 4); the same grade, used",
                 "'II-III' does not parse", "patient 'HCC_009' is not in clinical.csv",
                 "HCC_001/s/300-Segmentation/1-1.dcm: segments ['Portal vein', 'Abdominal aorta'] are neither liver "
                 "nor tumour"]:
        assert line in printed, line


def test_keep_ungraded_and_a_patient_with_two_segs(tmp_path):
    root, outside = tmp_path / "tree", tmp_path / "elsewhere"
    _hcc_tree(root, outside)
    again = write_series(root / "HCC_009/followup/ct", new_study("HCC_009"), series_number=7)
    write_seg(root / "HCC_009/followup/seg.dcm", again, {"Liver": LIVER})
    table = tmp_path / "clinical.csv"
    table.write_text(CLINICAL)
    summary = build_manifest(root, ManifestOptions(clinical=table, keep_ungraded=True))
    grades = {r.case_id: r.grade for r in summary.records}
    assert grades == {"HCC_001": 1, "HCC_002": 3, "HCC_008": None, "HCC_009_1": None, "HCC_009_2": None}
    assert {r.patient_id for r in summary.records if r.case_id.startswith("HCC_009")} == {"HCC_009"}
    assert any(n.startswith("patient HCC_009: several SEGs") for n in summary.notes)
    assert "kept without a grade" in "\n".join(summary.lines())
    out = tmp_path / "m.csv"
    assert main(["manifest", str(root), "--out", str(out), "--clinical", str(table), "--keep-ungraded"]) == 0
    assert len(read_manifest(out, require_grade=False)) == 5  # as `predict --manifest` reads it


def test_options_pick_segments_by_other_names(tmp_path):
    root = tmp_path / "tree"
    study = new_study("P1")
    ct = write_series(root / "P1/ct", study)
    write_seg(root / "P1/seg.dcm", ct, {"Hepar": LIVER, "Lesion 1": MASS, "Lesion 2": VEIN})
    default = build_manifest(root)
    assert not default.records and default.kinds() == {ProblemKind.NO_LIVER: 1}
    named = build_manifest(root, ManifestOptions(segments=SegmentNames(liver=("hepar",))))
    [record] = named.records
    assert record.liver_mask.endswith("seg.dcm:Hepar")
    assert record.tumor_mask == str(root / "P1/seg.dcm")  # two tumour labels: the reader's own choice by role
    case = record.load()
    assert sitk.GetArrayFromImage(case.tumor).sum() == (MASS | VEIN).sum()


def test_case_reader_takes_the_tumour_segments_of_a_bare_seg_path(tmp_path):
    """A SEG given without a segment name: the liver role reads "Liver", the tumour role "Tumor" (the
    case reader names roles "case X: tumor", which once made every role read the liver)."""
    from reactkd.io import load_case

    ct = write_series(tmp_path / "ct", new_study("P1"))
    seg = write_seg(tmp_path / "seg.dcm", ct, {"Liver": LIVER, "Tumor": MASS})
    case = load_case(tmp_path / "ct", seg, seg, case_id="P1")
    assert sitk.GetArrayFromImage(case.liver).sum() == LIVER.sum()
    assert sitk.GetArrayFromImage(case.tumor).sum() == MASS.sum()


def test_no_usable_case_exits_2_and_writes_nothing(tmp_path, capsys):
    root = tmp_path / "tree"
    study = new_study("P1")
    write_seg(root / "P1/seg/1.dcm", write_series(tmp_path / "gone", study), {"Liver": LIVER})
    write_seg(root / "P2/seg/1.dcm", write_series(root / "P2/ct", new_study("P2")), {"Vessel": VEIN})
    out = tmp_path / "m.csv"
    assert main(["manifest", str(root), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert not out.exists() and "no usable case" in captured.err and len(captured.err.splitlines()) == 1
    assert "referenced series not in the tree (1)" in captured.out and "no liver segment or mask (1)" in captured.out


def test_bad_options_are_one_line_before_any_work(tmp_path, capsys):
    (tmp_path / "tree").mkdir()
    existing = tmp_path / "m.csv"
    existing.write_text("mine")
    for argv, fragment in [
        ([str(tmp_path / "tree"), "--out", str(existing)], "exists; choose another name or pass --force"),
        ([str(tmp_path / "tree"), "--out", str(tmp_path / "m.yaml")], "written as CSV"),
        ([str(tmp_path / "none"), "--out", str(tmp_path / "n.csv")], "cohort folder not found"),
        ([str(tmp_path / "tree"), "--out", str(tmp_path / "n.csv")], "no layout recognised"),
        ([str(tmp_path / "tree"), "--out", str(tmp_path / "n.csv"), "--clinical", str(existing)], "which column"),
    ]:
        assert main(["manifest", *argv]) == 2
        err = capsys.readouterr().err
        assert fragment in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert existing.read_text() == "mine"
