"""The shipped synthetic demonstration model and sample case: ``scripts/ship_demo_model.py`` run on a tiny
finished run built from the test fixtures (the real one is regenerated from ``reactkd demo``), the model
card against the files, the torch-free metadata, and the sample case as Slicer reads it."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from mrml_env import require_slicer

slicer = require_slicer()

from REACTKDLib.model import metadata_path, peek_metadata, read_model_metadata, student_checkpoints
from REACTKDLib.model_card import MODEL_CARD_TEXT, SYNTHETIC_BANNER, card_problems, file_digest, read_card
from REACTKDLib.sample_data import (
    SAMPLE_FILES,
    SAMPLE_JSON,
    load_sample_case,
    read_sample_record,
    register_sample_data,
    sample_problems,
)
from REACTKDLib.segments import default_segment_choice, segment_names

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = ROOT / "REACTKD" / "Resources" / "Models" / "demo-synthetic"
SHIPPED_SAMPLE = ROOT / "REACTKD" / "Resources" / "SampleData"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_run(finished_tiny_run):
    return finished_tiny_run


@pytest.fixture(scope="module")
def shipped(shipped_tiny):
    return shipped_tiny


def _ship_script():
    from fixture_data import ship_script

    return ship_script()


def test_ship_copies_the_fold_students_and_writes_a_card_that_agrees(finished_run, shipped):
    model, _ = shipped
    card = read_card(model)
    assert card_problems(model, card) == []
    assert card.synthetic and card.folds == [0, 1]
    assert "phantom" in card.training_data["generator"] and card.training_data["generator_version"]
    assert card.training_data["config_sha256"] == file_digest(finished_run / "config.yaml")["sha256"]
    for k in card.folds:
        src, dst = finished_run / f"fold{k}/student/best.pt", model / f"fold{k}/student/best.pt"
        assert file_digest(src) == file_digest(dst)  # byte for byte
        assert json.loads(metadata_path(dst).read_text()) == json.loads(json.dumps(peek_metadata(src)))
        assert ((model / f"fold{k}/calibration.json").read_bytes()
                == (finished_run / f"fold{k}/calibration.json").read_bytes())
        for rel in (f"fold{k}/student/best.pt", f"fold{k}/student/best.json", f"fold{k}/calibration.json"):
            assert rel in card.files
    assert {"run.json", "training_domain.json", "config.yaml"} <= set(card.files)
    # the figures are the run's own, not recomputed
    import csv

    with open(finished_run / "report" / "summary_numeric.csv", newline="") as f:
        student = next(r for r in csv.DictReader(f) if r["Method"] == "student")
    auc = card.figures["conditions"]["PET + CT where present (as evaluated)"]["auc"]
    assert auc["mean"] == round(float(student["auc_mean"]), 4) and auc["n"] == 2
    assert "CT only (PET withheld)" in card.figures["conditions"]
    text = (model / MODEL_CARD_TEXT).read_text()
    assert SYNTHETIC_BANNER in text and "Intended use" in text and card.training_data["config_sha256"] in text


def test_metadata_is_read_without_torch(shipped):
    model, _ = shipped
    import subprocess

    code = ("import sys; sys.path.insert(0, sys.argv[1]); from REACTKDLib.model import read_model_metadata; "
            "m = read_model_metadata(sys.argv[2]); import json; "
            "print(json.dumps([m['kind'], m['fold'], 'torch' in sys.modules]))")
    for folder in (model, model.parent / "bare"):
        if folder.name == "bare":  # no sidecar: read out of the checkpoint's zip archive
            shutil.copytree(model, folder)
            for side in folder.glob("fold*/student/best.json"):
                side.unlink()
        out = subprocess.run([sys.executable, "-c", code, str(ROOT / "REACTKD"), str(folder)], capture_output=True,
                             text=True, check=True).stdout
        assert json.loads(out) == ["student", 0, False]


def test_card_problems_name_each_disagreement(shipped, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(shipped[0], model)
    card = read_card(model)
    checkpoint = model / "fold1" / "student" / "best.pt"
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    checkpoint.write_bytes(bytes(data))
    (model / "training_domain.json").write_text("{}")
    shutil.rmtree(model / "fold0")
    problems = card_problems(model, card)
    assert "fold1/student/best.pt differs from the card (SHA-256)" in problems
    assert any(p.startswith("training_domain.json has 2 bytes") for p in problems)
    assert "fold0/student/best.pt is missing" in problems
    assert "the folder holds fold students [1], the card lists [0, 1]" in problems


def test_ship_refuses_an_unfinished_run_and_keeps_the_previous_model(finished_run, shipped, tmp_path, capsys):
    partial = tmp_path / "partial"
    shutil.copytree(finished_run, partial, ignore=shutil.ignore_patterns("cache", "dose-cache", "eval"))
    (partial / "fold1" / "calibration.json").unlink()
    out = tmp_path / "model"
    shutil.copytree(shipped[0], out)
    before = {p: file_digest(p) for p in out.rglob("*") if p.is_file()}
    assert _ship_script().main(["--run", str(partial), "--model-out", str(out), "--no-sample"]) == 2
    err = capsys.readouterr().err
    assert ("fold1/calibration.json is missing" in err and "reactkd calibrate" in err
            and len(err.strip().splitlines()) == 1)
    assert {p: file_digest(p) for p in out.rglob("*") if p.is_file()} == before
    assert _ship_script().main(["--run", str(tmp_path / "nowhere"), "--model-out", str(out)]) == 2
    assert not list(tmp_path.glob(".model.build-*"))


def test_sample_case_agrees_with_its_record_and_loads_in_slicer(shipped, scene):
    _, sample = shipped
    assert sample_problems(sample) == []
    record = read_sample_record(sample)
    assert record["synthetic"] and record["grade"] in (1, 2, 3) and record["case_id"]
    total = sum(info["size"] for info in record["files"].values())
    assert total < 400_000, total  # a few hundred kB
    nodes = load_sample_case(scene, sample)
    liver, tumors = default_segment_choice(segment_names(nodes["segmentation"]))
    assert liver and len(tumors) == 1
    from REACTKDLib.geometry import array_from_volume

    ct = array_from_volume(nodes["ct"])
    assert ct.dtype.name == "int16" and ct.min() < -500 and ct.max() > 0
    assert [round(s, 3) for s in nodes["ct"].GetSpacing()] == [4.0, 4.0, 5.0]  # the demo's acquisition grid
    for key in ("pet_fdg", "pet_acetate"):
        assert array_from_volume(nodes[key]).max() > 0


def test_sample_registers_with_local_uris_and_checksums(shipped, tmp_path):
    _, sample = shipped

    class SampleDataLogic:  # records what Slicer's SampleData.SampleDataLogic is given
        calls = []

        @classmethod
        def registerCustomSampleDataSource(cls, **kwargs):
            cls.calls.append(kwargs)

    assert register_sample_data(SampleDataLogic, sample)
    (args,) = SampleDataLogic.calls
    assert args["category"] == "REACTKD" and args["loadFileType"][-1] == "SegmentationFile"
    assert args["fileNames"] == list(SAMPLE_FILES.values())
    for uri, checksum in zip(args["uris"], args["checksums"]):
        assert uri.startswith("file://")
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        path = Path(url2pathname(urlparse(uri).path))
        assert checksum == "SHA256:" + file_digest(path)["sha256"]
    assert Path(args["thumbnailFileName"]).is_file()
    assert not register_sample_data(SampleDataLogic, sample.parent / "no-sample")
    broken = tmp_path / "broken"
    shutil.copytree(sample, broken)
    (broken / SAMPLE_JSON).write_text(json.dumps({**read_sample_record(sample), "files": {}}))
    with pytest.raises(ValueError, match="must list"):
        register_sample_data(SampleDataLogic, broken)


def test_the_repository_ships_a_model_whose_card_agrees():
    """The model and sample inside the extension (regenerated by the coordinator from `reactkd demo`)."""
    if read_card(SHIPPED_MODEL) is None:
        pytest.skip(f"no shipped model at {SHIPPED_MODEL}: run `reactkd demo`, then scripts/ship_demo_model.py")
    card = read_card(SHIPPED_MODEL)
    assert card_problems(SHIPPED_MODEL, card) == []
    assert card.synthetic and len(student_checkpoints(SHIPPED_MODEL)) == len(card.folds) >= 2
    assert read_model_metadata(SHIPPED_MODEL)["kind"] == "student"
    assert sum(f["size"] for f in card.files.values()) < 4_000_000
    assert read_sample_record(SHIPPED_SAMPLE) is not None, f"the sample case is missing from {SHIPPED_SAMPLE}"
    assert sample_problems(SHIPPED_SAMPLE) == []
