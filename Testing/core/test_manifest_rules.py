"""The rules ``reactkd manifest`` reads names by: grade cells, clinical columns, segment labels and their
selectors, file names in a case folder, PET tracers."""

from __future__ import annotations

from pathlib import Path

import pytest

from reactkd.cohort.layouts import GradeParseError, SegmentNames, parse_grade, read_clinical
from reactkd.cohort.layouts.file_roles import FileRole, file_role
from reactkd.cohort.layouts.segments import Segment, choose_segments
from reactkd.cohort.layouts.tracers import tracer_from_text
from reactkd.io.masks import parse_mask_spec


@pytest.mark.parametrize("cell, grade", [
    ("1", 1), ("2.0", 2), (3, 3), ("4", 3), ("G1", 1), ("g2", 2), ("G3", 3), ("G4", 3),
    ("I", 1), ("ii", 2), ("III", 3), ("IV", 3), ("ES III", 3), ("Edmondson-Steiner grade II", 2), ("grade 1", 1),
    ("Well differentiated", 1), ("Well-differentiated", 1), ("moderately differentiated", 2),
    ("Poorly-differentiated HCC", 3), ("undifferentiated", 3), ("Moderately Differentiated", 2),
    ("", None), ("NA", None), ("n/a", None), ("unknown", None), (None, None), ("-", None),
])
def test_grade_cells(cell, grade):
    assert parse_grade(cell) == grade


@pytest.mark.parametrize("cell", ["II-III", "well to moderately", "high grade", "0", "5", "GII", "No biopsy", "2.5"])
def test_grade_cells_that_do_not_parse_are_refused_not_guessed(cell):
    with pytest.raises(GradeParseError, match=f"grade value '{cell}' does not parse"):
        parse_grade(cell)


def test_clinical_columns_found_by_name_or_given(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("TCIA_ID,Age,Gender,HBV hepatitis,AFP (ng/mL),Pathology,Tr_Size\n"
                     "HCC_001,61,M,yes,12,Well differentiated,3\nHCC_002,70,F,no,,II-III,5\n,,,,,G1,\n")
    t = read_clinical(table)
    assert (t.patient_column, t.grade_column) == ("TCIA_ID", "Pathology")
    assert t.extra_columns == {"age": "Age", "sex": "Gender", "hepatitis": "HBV hepatitis", "afp": "AFP (ng/mL)"}
    assert [(r.row, r.patient, r.grade) for r in t.rows] == [(2, "HCC_001", 1), (3, "HCC_002", None)]
    assert "'II-III' does not parse" in t.rows[1].grade_problem and t.rows[1].extras == {"age": "70", "sex": "F",
                                                                                        "hepatitis": "no"}
    given = read_clinical(table, grade_column="tr_size")
    assert [r.grade for r in given.rows] == [3, None] and given.rows[1].grade_problem  # 5 is no grade


def test_clinical_column_ambiguity_and_absence_are_one_line(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("patient\tgrade\tGrade\n1\t1\t2\n")
    with pytest.raises(ValueError, match=r"which column holds the grades\? several could be: \['grade', 'Grade'\]"):
        read_clinical(table)
    with pytest.raises(ValueError, match=r"`--patient-column` 'mrn' is not a column of t.tsv"):
        read_clinical(table, patient_column="mrn", grade_column="grade")
    (tmp_path / "x.csv").write_text("name,score\na,1\n")
    with pytest.raises(ValueError, match="which column holds the patient ids"):
        read_clinical(tmp_path / "x.csv")


@pytest.mark.parametrize("label, role", [
    ("Liver", "liver"), ("Mass", "tumor"), ("Portal vein", None), ("Abdominal aorta", None), ("Tumor 2", "tumor"),
    ("liver_lesions", "tumor"), ("Liver tumour", "tumor"), ("HCC", "tumor"), ("Spleen", None), ("Delivery", None),
])
def test_segment_roles_by_whole_words(label, role):
    assert SegmentNames().role(label) == role


def test_selectors_name_number_bare_path_or_refusal():
    path = Path("/data/seg.dcm")
    hcc = [Segment(1, "Liver"), Segment(2, "Mass"), Segment(3, "Portal vein"), Segment(4, "Abdominal aorta")]
    choice = choose_segments(path, hcc)
    assert (choice.liver, choice.tumor, choice.ignored) == ("/data/seg.dcm:Liver", "/data/seg.dcm:Mass",
                                                           ["Portal vein", "Abdominal aorta"])
    assert parse_mask_spec(choice.tumor).label == "Mass"  # the reader splits it back
    numbered = choose_segments(path, [Segment(1, "Liver"), Segment(2, "1"), Segment(3, "x")],
                               SegmentNames(tumor=("1",)))
    assert numbered.tumor == "/data/seg.dcm:2"  # a label that reads as a number: the segment number instead
    several = choose_segments(path, [Segment(1, "Liver"), Segment(2, "Tumor 1"), Segment(3, "Tumor 2")])
    assert several.tumor == "/data/seg.dcm"  # the reader's own choice by role picks exactly these two
    blocked = choose_segments(path, [Segment(1, "Liver"), Segment(2, "Mass"), Segment(3, "Nodule"),
                                     Segment(4, "Lesion cyst")], SegmentNames(tumor=("mass", "nodule")))
    assert blocked.tumor is None and "different labels" in blocked.problems["tumor"]
    none = choose_segments(path, [Segment(1, "Mass")])
    assert none.liver is None and "no segment label names the liver" in none.problem


@pytest.mark.parametrize("name, role", [
    ("ct.nii.gz", FileRole("ct")), ("CT_venous.nrrd", FileRole("ct")), ("image.nii.gz", FileRole("ct")),
    ("liver_ct.nii.gz", FileRole("ct")), ("ct_liver_mask.nii.gz", FileRole("liver")),
    ("liver.nii.gz", FileRole("liver")), ("tumour_mask.mha", FileRole("tumor")), ("lesions.nii", FileRole("tumor")),
    ("pet_fdg.nii.gz", FileRole("pet", "fdg")), ("acetate.nii.gz", FileRole("pet", "acetate")),
    ("PET.nii.gz", FileRole("pet", "fdg")), ("11C-acetate_PET.nrrd", FileRole("pet", "acetate")),
    ("Segmentation.seg.nrrd", FileRole("segmentation")), ("seg.nii.gz", FileRole("segmentation")),
    ("labels.nii.gz", FileRole("segmentation")), ("notes.txt", None), ("report.pdf", None), ("ct.png", None),
])
def test_file_roles_by_name(tmp_path, name, role):
    path = tmp_path / name
    path.write_bytes(b"")
    assert file_role(path) == role


def test_dicom_series_folders_by_name(tmp_path):
    for name in ("CT", "PET_FDG", "seg"):
        (tmp_path / name).mkdir()
    assert file_role(tmp_path / "CT") == FileRole("ct")
    assert file_role(tmp_path / "PET_FDG") == FileRole("pet", "fdg")
    assert file_role(tmp_path / "seg") is None  # masks are files


@pytest.mark.parametrize("text, tracer", [
    ("Fludeoxyglucose F^18^", "fdg"), ("18F-FDG", "fdg"), ("Acetate C^11^", "acetate"), ("11C-acetate", "acetate"),
    ("Choline C^11^", None), ("", None), ("FDG and acetate", None),
])
def test_tracers(text, tracer):
    assert tracer_from_text(text) == tracer
