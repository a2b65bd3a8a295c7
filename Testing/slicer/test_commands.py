"""Command lines, training progress, dependency plan, model checks and error wording."""

import sys
from pathlib import Path

import pytest
import tomllib
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.commands import (
    MODULE_DIR,
    child_environment,
    parse_training_progress,
    predict_command,
    resolve_device,
    train_command,
)
from REACTKDLib.dependencies import (
    NEVER_INSTALL,
    REQUIREMENTS,
    install_plan_text,
    missing_requirements,
    pip_constraints,
    pip_requirements,
)
from REACTKDLib.errors import explain_failure, first_line, wait_or_raise
from REACTKDLib.model import model_input_problems, read_model_metadata

ROOT = Path(__file__).resolve().parents[2]


def test_commands_run_the_core_from_the_module_folder():
    cmd = predict_command("m.pt", "ct.nrrd", "liver.nrrd", "out", tumor="t.nrrd", pets={"fdg": "p.nrrd"}, device="cpu")
    assert cmd[:3] == [sys.executable, "-m", "reactkd"]
    assert cmd[3:] == ["predict", "--model", "m.pt", "--ct", "ct.nrrd", "--liver", "liver.nrrd", "--out", "out",
                       "--device", "cpu", "--tumor", "t.nrrd", "--pet", "fdg=p.nrrd"]
    assert (MODULE_DIR / "reactkd" / "__init__.py").is_file()
    env = child_environment("cpu", base={"PYTHONPATH": "/x"})
    assert env["PYTHONPATH"].split(":")[:2] == [str(MODULE_DIR), "/x"] and env["CUDA_VISIBLE_DEVICES"] == ""
    assert "CUDA_VISIBLE_DEVICES" not in child_environment("cuda", base={})
    tc = train_command("demo-cpu", "runs/x", ["stage1.epochs=1"], device="cuda", report=False)
    assert tc[3:] == ["train", "--config", "demo-cpu", "--out", "runs/x", "--set", "stage1.epochs=1",
                      "--set", "device=cuda", "--no-report"]
    assert resolve_device("CPU") == "cpu" and resolve_device("auto") in ("cpu", "cuda")


def test_training_progress_counts_folds_and_stages():
    assert parse_training_progress("fold 0 teacher 1/4:  50%|##", 2) == (0.0, "fold 1/2: teacher epoch 1/4")
    frac, text = parse_training_progress("\rfold 1 student 3/4: 10%", 2)
    assert abs(frac - (3 + 2 / 4) / 4) < 1e-9 and text == "fold 2/2: student epoch 3/4"
    assert parse_training_progress("fold 0: teacher best epoch 3, val auc 0.700", 2)[0] == 0.25
    assert parse_training_progress("fold 0: done, skipped", 2)[0] == 0.5
    assert parse_training_progress("report: runs/x/report/index.md", 2) is None


def test_dependency_plan_mirrors_pyproject_and_never_touches_slicers_own():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in deps}
    planned = {r.split(">")[0].lower() for r in REQUIREMENTS.values()}
    assert names - planned <= {"simpleitk", "numpy"}, "a core dependency is missing from the Slicer install plan"
    reqs = pip_requirements(list(REQUIREMENTS))
    assert not any(r.lower().startswith(("torch", "simpleitk", "vtk", "numpy")) for r in reqs)
    assert set(NEVER_INSTALL) == {"simpleitk", "vtk", "numpy"}
    missing = missing_requirements(lambda name: None if name in ("torch", "ot") else object())
    assert missing == ["torch", "ot"] and pip_requirements(missing) == ["pot>=0.9.5"]
    assert "PyTorch extension" in install_plan_text(missing) and "pot>=0.9.5" in install_plan_text(missing)
    pins = pip_constraints().splitlines()  # every distribution of this Python, pinned
    assert "numpy==" + __import__("numpy").__version__ in pins and any(p.startswith("simpleitk==") for p in pins)


def test_errors_are_explained_in_words():
    oom = ["Traceback ...", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
    assert "GPU ran out of memory" in explain_failure(oom, 1)
    assert "No liver" in explain_failure(["reactkd predict: error: case x: the liver mask is empty; every ..."], 2)
    assert "does not lie on this CT" in explain_failure(
        ["error: tumor mask: its world extent does not overlap the CT"], 2)
    assert "does not fit" in explain_failure(
        ["reactkd predict: error: x.pt holds a 'teacher' checkpoint, not a student."], 2)
    assert explain_failure(["whatever"], -15, cancelled=True) == "Cancelled."
    assert "exit code 2): something odd" in explain_failure(["reactkd predict: error: something odd"], 2)
    assert explain_failure(["boom"], 1, what="segmentation").startswith("The segmentation failed")
    # a panel shows one line: the first that says something
    assert first_line("\n  Model not found: x.  \nTraceback …") == "Model not found: x."
    assert first_line("") == first_line(None) == first_line(" \n ") == ""
    assert first_line(ValueError("bad input\nmore")) == "bad input"


class _Finished:
    """Stands in for a BackgroundProcess that has already ended."""

    def __init__(self, code, lines):
        self.returncode, self.lines, self.cancelled, self.seen = code, lines, False, []

    def wait(self, timeout=None, on_line=None, process_events=None):
        for line in self.lines:
            on_line and on_line(line)
        return self.returncode


def test_synchronous_runs_raise_the_explanation():
    ok = _Finished(0, ["done"])
    wait_or_raise(ok, on_line=ok.seen.append)
    assert ok.seen == ["done"]
    with pytest.raises(RuntimeError, match="GPU ran out of memory"):
        wait_or_raise(_Finished(1, ["torch.OutOfMemoryError: CUDA out of memory."]))
    with pytest.raises(RuntimeError, match="^The segmentation failed .*odd"):
        wait_or_raise(_Finished(2, ["reactkd segment: error: odd"]), what="segmentation")


def test_prediction_summary_reads_like_a_report():
    pred = {"grade": 3, "probabilities": {"1": 0.1, "2": 0.2, "3": 0.7},
            "nodes": [{"kind": "liver"}, {"kind": "tumor"}, {"kind": "tumor"}]}
    from REACTKDLib.outputs import prediction_summary

    assert prediction_summary(pred) == ("Predicted Edmondson–Steiner grade 3 (G1 0.10, G2 0.20, G3 0.70); "
                                        "2 tumour node(s).")


def test_grading_refuses_before_exporting_anything(tiny_model, tmp_path):
    from reactkd.train.checkpoint import load_checkpoint, save_checkpoint
    from REACTKDLib.inference import start_grading

    made = []

    def folder():
        made.append(tmp_path / "job")
        return made[-1]

    with pytest.raises(ValueError, match="Model not found"):
        start_grading(None, None, None, ["liver"], [], None, tmp_path / "none.pt", folder)
    state, meta = load_checkpoint(tiny_model)
    save_checkpoint(tmp_path / "teacher.pt", state, {**meta, "kind": "teacher"})
    with pytest.raises(ValueError, match="'teacher' checkpoint"):
        start_grading(None, None, None, ["liver"], [], None, tmp_path / "teacher.pt", folder)
    assert not made, "a refused run must not leave a temporary folder behind"


def test_model_checks(tiny_model):
    meta = read_model_metadata(tiny_model)
    assert meta["kind"] == "student"
    assert model_input_problems(meta, []) == ([], [])
    errors, notes = model_input_problems(meta, ["fdg"])
    assert not errors and "CT only" in notes[0]
    pet_meta = {**meta, "model_kwargs": {**meta["model_kwargs"], "pet_channels": 2}}
    assert "without PET" in model_input_problems(pet_meta, [])[1][0]
    assert "not ['fluciclovine']" in model_input_problems(pet_meta, ["fluciclovine"])[0][0]
    assert "'teacher' checkpoint" in model_input_problems({**meta, "kind": "teacher"}, [])[0][0]
