"""Grade all loaded cases (REACTKDLib.batch) against real MRML: which segmentations count as cases, the
exported manifest the core reads, the ``reactkd predict --manifest`` request to the model's worker, its progress lines,
and grades.csv shown as a table node."""

import csv

import pytest
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from reactkd.cohort import read_manifest
from REACTKDLib.batch import (
    export_loaded_cases,
    grade_loaded_cases,
    load_grades_table,
    loaded_cases,
    parse_batch_progress,
    start_batch_grading,
)
from REACTKDLib.worker import stop_all_workers


@pytest.fixture(autouse=True)
def _no_worker_left():
    """Batches run in the model's persistent worker: stop it after each test."""
    yield
    stop_all_workers()


def _add_case(scene, record, load_volume, name):
    ct = load_volume(scene, record.ct, name)
    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{name} segmentation")
    seg.SetReferenceImageGeometryParameterFromVolumeNode(ct)
    for path, segment in ((record.liver_mask, "Liver"), (record.tumor_mask, "Tumor 1")):
        label = load_volume(scene, path, f"{name} {segment}", label=True)
        assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(label, seg)
        segmentation = seg.GetSegmentation()
        segmentation.GetNthSegment(segmentation.GetNumberOfSegments() - 1).SetName(segment)
        scene.RemoveNode(label)
    return ct, seg


def test_loaded_cases_and_their_manifest(scene, tiny_cohort, load_volume, tmp_path):
    records = read_manifest(tiny_cohort)[:2]
    for i, r in enumerate(records):
        _add_case(scene, r, load_volume, f"CT {i}")
    scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Stray")  # no reference CT
    cases, skipped = loaded_cases(scene)
    assert [c[0].GetName() for c in cases] == ["CT 0", "CT 1"]
    assert skipped == ["Stray: no CT volume as its reference geometry"]
    assert all(len(c[2]) == 1 and len(c[3]) == 1 for c in cases)  # liver and tumour chosen by name
    manifest = export_loaded_cases(scene, cases, tmp_path / "job")
    read = read_manifest(manifest, require_grade=False)  # the core accepts it
    assert [r.case_id for r in read] == ["CT_0", "CT_1"] and all(r.grade is None for r in read)
    assert all(r.tumor_mask and r.ct.is_file() for r in read)
    with pytest.raises(ValueError, match="No loaded case"):
        export_loaded_cases(scene, [], tmp_path / "none")


def test_progress_lines():
    assert parse_batch_progress("[3/4] CT_1: grade 2 (p 0.61 ± 0.05, agreement 1.00)") == (
        0.75, "CT_1: grade 2 (p 0.61 ± 0.05, agreement 1.00)")
    assert parse_batch_progress("[1/4] CT_0: FAILED, skipped: bad file")[0] == 0.25
    assert parse_batch_progress("2 graded, 0 done before, 0 failed → x") is None


@pytest.mark.slow
def test_grade_all_loaded_cases_into_a_table(scene, tiny_cohort, load_volume, tiny_model, tmp_path):
    for i, r in enumerate(read_manifest(tiny_cohort)[:2]):
        _add_case(scene, r, load_volume, f"CT {i}")
    cases, _ = loaded_cases(scene)
    manifest = export_loaded_cases(scene, cases, tmp_path / "job")
    process = start_batch_grading(str(tiny_model), manifest, tmp_path / "job" / "out", device="cpu")
    assert process.wait(timeout=300) == 0, "\n".join(process.lines[-20:])
    progress = [p for p in map(parse_batch_progress, process.lines) if p]
    assert [p[0] for p in progress] == [0.5, 1.0]
    table = load_grades_table(scene, tmp_path / "job" / "out")
    t = table.GetTable()
    assert t.GetNumberOfRows() == 2
    columns = [t.GetColumnName(i) for i in range(t.GetNumberOfColumns())]
    assert {"case_id", "grade", "p_G1", "std_G1", "agreement", "domain_warnings", "node0_attention"} <= set(columns)
    with open(tmp_path / "job" / "out" / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [table.GetCellText(r, columns.index("case_id")) for r in range(2)] == [r["case_id"] for r in rows]
    assert all(r["status"] == "ok" for r in rows)


@pytest.mark.slow
def test_grade_loaded_cases_in_one_call_reports_progress(scene, tiny_cohort, load_volume, tiny_model, tmp_path):
    _add_case(scene, read_manifest(tiny_cohort)[2], load_volume, "CT A")
    seen = []
    table = grade_loaded_cases(scene, str(tiny_model), tmp_path / "job", "cpu", timeout=300, on_progress=seen.append)
    assert table.GetTable().GetNumberOfRows() == 1 and seen and seen[-1].startswith("100% CT_A: grade ")


def test_loading_a_batch_again_refreshes_its_table_and_leaves_no_reader(scene, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.csv").write_text("case_id,status,grade\nA,ok,2\n")
    first = load_grades_table(scene, out)
    (out / "grades.csv").write_text("case_id,status,grade\nA,ok,2\nB,ok,3\n")
    again = load_grades_table(scene, out)
    assert again is first and again.GetTable().GetNumberOfRows() == 2 and again.GetLocked()
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 1
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableStorageNode") == 0
    with pytest.raises(FileNotFoundError, match="no grades yet"):
        load_grades_table(scene, tmp_path / "none")


def test_a_batch_table_names_its_model_and_a_panel_job_knows_what_to_finish(scene, tmp_path):
    import types

    from REACTKDLib.jobs import BATCH, GRADE, PanelJob
    from REACTKDLib.model_picker import PHANTOM_BANNER
    from REACTKDLib.provenance import MODEL_COLUMN, table_banner

    out = tmp_path / "out"
    out.mkdir()
    (out / "grades.csv").write_text("case_id,status,grade\nA,ok,2\nB,FAILED,\n")
    status = types.SimpleNamespace(path="/runs/demo", card=None, banner=PHANTOM_BANNER)
    table = load_grades_table(scene, out, status=status)
    column = table.GetTable().GetColumnByName(MODEL_COLUMN)
    assert [column.GetValue(r) for r in range(2)] == [f"{PHANTOM_BANNER} (demo)"] * 2
    assert table_banner(table) == PHANTOM_BANNER and table.GetLocked()

    def job(kind, code, cancelled=False, inputs=None):
        process = types.SimpleNamespace(returncode=code, cancelled=cancelled, lines=[])
        return PanelJob(kind, types.SimpleNamespace(job=process) if kind == BATCH else process, inputs=inputs)

    # a batch with failed cases still has a table to show; a cancelled one has not
    assert job(BATCH, 1).has_results and not job(BATCH, None, cancelled=True).has_results
    assert job(GRADE, 0).has_results and not job(GRADE, 1).has_results
    # a case's exported inputs go once it is finished; a batch keeps its output folder
    inputs = types.SimpleNamespace(folder=tmp_path / "job")
    assert job(GRADE, 0, inputs=inputs).scratch_folder == tmp_path / "job"
    assert job(BATCH, 0, inputs=out).scratch_folder is None
