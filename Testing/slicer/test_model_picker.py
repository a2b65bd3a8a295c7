"""The model picker's entries and its one-line verdicts, the torch-free checkpoint metadata, the model card
against its files, and the provenance (synthetic banner) a result table carries."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mrml_env import require_slicer

slicer = require_slicer()

from REACTKDLib.model import metadata_path, peek_metadata, read_checkpoint_metadata, write_metadata_sidecar
from REACTKDLib.model_card import SYNTHETIC_BANNER, ModelCard, card_problems, file_digest, write_card
from REACTKDLib.model_picker import (
    BROWSE,
    PHANTOM_BANNER,
    SEGMENTATION_BANNER,
    choice_index,
    describe_model,
    model_choices,
    model_root,
    remember,
    segmentation_banner,
)
from REACTKDLib.provenance import MODEL_COLUMN, add_model_column, mark_results, table_banner

ROOT = Path(__file__).resolve().parents[2]
STUDENT = {"kind": "student", "fold": 0, "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"]},
           "model_kwargs": {"pet_channels": 2}}


def _checkpoint(path: Path, metadata: dict, fmt: str = "reactkd-checkpoint-2") -> Path:
    """A checkpoint as ``torch.save`` writes it: tensors, a format record and JSON metadata."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": fmt, "metadata": json.dumps(metadata), "state": {"model": {"w": torch.zeros(3)}}}, path)
    return path


def _run(folder: Path, folds=(0, 1), card: bool = False, synthetic: bool = True, phantom: bool = False) -> Path:
    for k in folds:
        _checkpoint(folder / f"fold{k}" / "student" / "best.pt", {**STUDENT, "fold": k})
    (folder / "run.json").write_text(json.dumps({"format": "reactkd-run-2", "kind": "grading"}))
    (folder / "config.yaml").write_text("name: tiny\n")
    if phantom:
        (folder / "cohort").mkdir()
        (folder / "cohort" / "cohort.json").write_text(json.dumps({"generator": "reactkd.phantom.cohort"}))
    if card:
        files = {p.relative_to(folder).as_posix(): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}
        write_card(folder, ModelCard(name="demo-synthetic", title="Demo (synthetic)", synthetic=synthetic,
                                     intended_use="showing the workflow", folds=list(folds), files=files))
    return folder


def test_metadata_is_read_from_the_checkpoint_without_torch(tmp_path):
    path = _checkpoint(tmp_path / "fold0" / "student" / "best.pt", STUDENT)
    code = ("import sys, json; sys.path.insert(0, sys.argv[1]); from REACTKDLib.model import peek_metadata; "
            "print(json.dumps([peek_metadata(sys.argv[2]), 'torch' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "REACTKD"), str(path)], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == [STUDENT, False]
    side = write_metadata_sidecar(path)
    assert side == metadata_path(path) == path.with_suffix(".json")
    side.write_text(json.dumps({**STUDENT, "fold": 7}))
    assert read_checkpoint_metadata(path)["fold"] == 7  # the file beside it wins (no zip read)


@pytest.mark.parametrize("content, words", [
    (b"", r"empty file \(0 bytes\)"),
    (b"not a zip at all", "not a readable REACTKD checkpoint"),
])
def test_unreadable_checkpoints_are_one_line(tmp_path, content, words):
    path = tmp_path / "best.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=words) as err:
        read_checkpoint_metadata(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    import pickle
    import zipfile

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("evil/data.pkl", pickle.dumps({"format": "reactkd-checkpoint-2", "metadata": Evil()}))
    with pytest.raises(ValueError, match="refusing the global builtins.print"):
        peek_metadata(path)


def test_choices_order_dedupe_and_remember(tmp_path):
    shipped = _run(tmp_path / "shipped", card=True)
    trained, recent = str(tmp_path / "trained"), str(tmp_path / "recent")
    choices = model_choices(shipped, [trained], [recent, str(shipped), trained], current=str(tmp_path / "scene"),
                            environment=str(tmp_path / "env"))
    assert [c.origin for c in choices] == ["shipped", "environment", "trained", "recent", "current", "browse"]
    assert choices[0].label == "Demo (synthetic)" and choices[-1] == BROWSE
    assert model_choices(tmp_path / "absent")[0] == BROWSE  # no shipped model: browse only
    assert remember(["a", "b", "c"], "b") == ["b", "a", "c"]
    assert remember([str(i) for i in range(10)], "new", limit=3) == ["new", "0", "1"]
    assert model_root(shipped / "fold1" / "student" / "best.pt") == shipped and model_root(shipped) == shipped
    assert choice_index(choices, str(shipped) + "/") == 0 and choice_index(choices, trained) == 2
    assert choice_index(choices, "") == choice_index(choices, ".") == choice_index(choices, "/elsewhere") == -1


def test_describe_model_names_each_problem_in_one_line(tmp_path):
    ok = describe_model(_run(tmp_path / "shipped", card=True))
    assert ok.ok and ok.students == 2 and ok.banner == SYNTHETIC_BANNER
    assert ok.summary() == "Demo (synthetic): 2 fold students, reads CT + PET (fdg, acetate)."
    real = describe_model(_run(tmp_path / "real", card=True, synthetic=False))
    assert real.ok and real.banner == ""
    phantom = describe_model(_run(tmp_path / "demo-run", phantom=True))  # a `reactkd demo` run: no card
    assert phantom.ok and phantom.banner == PHANTOM_BANNER
    single = describe_model(tmp_path / "real" / "fold0" / "student" / "best.pt")
    assert (single.ok and single.students == 1
            and single.summary().endswith("one student, reads CT + PET (fdg, acetate)."))

    empty = tmp_path / "empty"
    empty.mkdir()
    tampered = _run(tmp_path / "tampered", card=True)
    (tampered / "fold1" / "student" / "best.pt").write_bytes(b"x")
    corrupt = _run(tmp_path / "corrupt")
    (corrupt / "fold1" / "student" / "best.pt").write_bytes(b"PK\x03\x04 torn")
    teacher = _run(tmp_path / "teacher")
    _checkpoint(teacher / "fold0" / "student" / "best.pt", {"kind": "teacher"})
    older = _run(tmp_path / "older")
    (older / "run.json").unlink()
    cases = [(None, "No model chosen: pick the demonstration model or browse"),
             (tmp_path / "nowhere", "Model not found:"),
             (empty, "holds no trained student (fold*/student/best.pt): browse to a run folder"),
             (tampered, "disagrees with its model card: fold1/student/best.pt has 1 bytes"),
             (corrupt, "Corrupt model file:"),
             (teacher, "is a 'teacher' checkpoint"),
             (older, "was trained by an older REACT-KD")]
    for path, words in cases:
        status = describe_model(path)
        assert not status.ok and words in status.problem, (path, status.problem)
        assert "\n" not in status.problem and status.summary() == status.problem


def test_card_agreement_is_checked_fold_by_fold(tmp_path):
    run = _run(tmp_path / "m", card=True)
    from REACTKDLib.model_card import read_card

    card = read_card(run)
    assert card_problems(run, card) == []
    _checkpoint(run / "fold2" / "student" / "best.pt", STUDENT)
    assert card_problems(run, card) == ["the folder holds fold students [0, 1, 2], the card lists [0, 1]"]
    (run / "model_card.json").write_text("{not json")
    status = describe_model(run)
    assert "model card is unreadable" in status.problem
    with pytest.raises(ValueError, match="format"):
        ModelCard.from_dict({"format": "other"})


def test_result_tables_carry_the_model_and_its_banner():
    scene = slicer.vtkMRMLScene()
    table = scene.AddNewNodeByClass("vtkMRMLTableNode", "grades")
    import vtk

    column = vtk.vtkStringArray()
    column.SetName("Grade")
    for g in ("G1", "G2", "G3"):
        column.InsertNextValue(g)
    table.GetTable().AddColumn(column)
    add_model_column(table, "demo-synthetic", SYNTHETIC_BANNER)
    add_model_column(table, "demo-synthetic", SYNTHETIC_BANNER)  # refilled, not added twice
    model = table.GetTable().GetColumnByName(MODEL_COLUMN)
    assert table.GetTable().GetNumberOfColumns() == 2
    assert [model.GetValue(r) for r in range(3)] == [f"{SYNTHETIC_BANNER} (demo-synthetic)"] * 3
    mark_results([table, None], "/models/demo", SYNTHETIC_BANNER)
    assert table_banner(table) == SYNTHETIC_BANNER and table.GetAttribute("REACTKD.Model") == "/models/demo"
    add_model_column(table, "my-run")
    assert model.GetValue(0) == "my-run"
    mark_results([table], "/models/mine")
    assert table_banner(table) == "" and table.GetAttribute("REACTKD.Synthetic") == "false"


def test_the_default_model_is_the_shipped_one_not_a_source_tree_run(tmp_path, monkeypatch):
    import REACTKDLib.model_picker as model_picker
    from REACTKDLib.inference import default_model
    from REACTKDLib.segmentation import default_seg_model

    monkeypatch.delenv("REACTKD_MODEL", raising=False)
    monkeypatch.delenv("REACTKD_SEG_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    _run(tmp_path / "runs" / "demo")  # a runs/demo beside the current folder is no longer picked up
    monkeypatch.setattr(model_picker, "shipped_model_dir", lambda module_dir: tmp_path / "absent")
    assert default_model() == "" and default_seg_model() == ""
    shipped = _run(tmp_path / "shipped", card=True)
    monkeypatch.setattr(model_picker, "shipped_model_dir", lambda module_dir: shipped)
    assert default_model() == str(shipped)
    monkeypatch.setenv("REACTKD_MODEL", "/my/run")
    assert default_model() == "/my/run"
    shutil.rmtree(tmp_path / "runs")


def test_a_new_scene_fills_what_the_parameter_node_lacks(tmp_path, monkeypatch):
    import types

    from REACTKDLib.panel import fill_missing_inputs

    monkeypatch.setenv("REACTKD_MODEL", str(tmp_path / "model"))
    monkeypatch.setenv("REACTKD_SEG_MODEL", str(tmp_path / "seg"))
    scene = slicer.vtkMRMLScene()
    pet = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "FDG PET")
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Segmentation")
    p = types.SimpleNamespace(ctVolume=None, segmentation=None, modelPath=Path(), segModelPath=Path())
    fill_missing_inputs(p, scene)
    assert (p.ctVolume, p.segmentation) == (ct, seg)  # a PET (by its name) is no CT candidate
    assert (p.modelPath, p.segModelPath) == (tmp_path / "model", tmp_path / "seg")
    chosen = types.SimpleNamespace(ctVolume=pet, segmentation=None, modelPath=Path("/mine"), segModelPath=Path("/s"))
    fill_missing_inputs(chosen, scene)  # a choice already made is kept
    assert (chosen.ctVolume, chosen.modelPath, chosen.segModelPath) == (pet, Path("/mine"), Path("/s"))


def test_a_phantom_trained_segmentation_model_carries_a_banner(tmp_path):
    run = tmp_path / "seg-demo"
    (run / "student").mkdir(parents=True)
    (run / "student" / "best.pt").write_bytes(b"x")
    assert segmentation_banner(run) == "" and segmentation_banner("") == ""
    (run / "cohort").mkdir()
    (run / "cohort" / "cohort.json").write_text(json.dumps({"generator": "reactkd.phantom.cohort"}))
    assert segmentation_banner(run) == segmentation_banner(run / "student" / "best.pt") == SEGMENTATION_BANNER
