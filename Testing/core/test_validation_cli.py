"""Bad checkpoints, devices, output paths and numbers are refused at the command line before any work,
with one line naming the input and the problem, never a traceback."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from conftest import make_image
from reactkd.cli import is_out_of_memory, main, out_of_memory_advice
from reactkd.io import load_case
from reactkd.models import Student
from reactkd.preprocess import PreprocessConfig
from reactkd.train.checkpoint import DeviceUnavailableError, load_checkpoint, save_checkpoint

KWARGS = {"init_filters": 8, "fusion_channels": 8, "blocks_down": [1, 1, 1], "head": {"kind": "region"}}


def _one_line_error(capsys, argv, code=2) -> str:
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def case_files(tmp_path, toy_case_images):
    t = toy_case_images
    paths = {}
    for key in ("ct", "liver", "tumor"):
        paths[key] = tmp_path / f"{key}.nii.gz"
        sitk.WriteImage(t[key], str(paths[key]))
    return paths


def _student_checkpoint(path, metadata=None, state=None):
    torch.manual_seed(0)
    student = Student(**KWARGS)
    meta = {"kind": "student", "model_kwargs": KWARGS,
            "preprocess": PreprocessConfig(grid_size=32).to_dict()}
    return save_checkpoint(path, {"model": state if state is not None else student.state_dict()},
                           meta if metadata is None else metadata)


def _predict(case_files, model, out):
    return ["predict", "--model", str(model), "--ct", str(case_files["ct"]), "--liver", str(case_files["liver"]),
            "--tumor", str(case_files["tumor"]), "--out", str(out)]


def test_zero_byte_model(tmp_path, case_files, capsys):
    model = tmp_path / "student.pt"
    model.write_bytes(b"")
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out"))
    assert f"checkpoint {model} is an empty file (0 bytes)" in err
    model.write_bytes(b"PK\x03\x04 not really a zip")
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out"))
    assert f"checkpoint {model} is not a readable torch checkpoint" in err
    assert not (tmp_path / "out" / "prediction.json").exists()


def test_checkpoint_missing_metadata_fields(tmp_path, case_files, capsys):
    model = _student_checkpoint(tmp_path / "student.pt", metadata={"kind": "student"})
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out"))
    assert f"checkpoint {model}: its metadata lacks ['model_kwargs', 'preprocess']" in err


def test_state_dict_of_the_wrong_shape(tmp_path, case_files, capsys):
    other = Student(**{**KWARGS, "init_filters": 16}).state_dict()
    model = _student_checkpoint(tmp_path / "student.pt", state=other)
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out"))
    assert f"checkpoint {model}: its weights do not fit the student its metadata describes (size mismatch" in err


def test_model_kwargs_that_build_nothing(tmp_path, case_files, capsys):
    meta = {"kind": "student", "model_kwargs": {"no_such_argument": 1}, "preprocess": {}}
    model = _student_checkpoint(tmp_path / "student.pt", metadata=meta)
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out"))
    assert f"checkpoint {model}: its `model_kwargs` do not build a student" in err


def test_metadata_that_is_not_json(tmp_path, case_files, capsys):
    model = tmp_path / "student.pt"
    torch.save({"format": "reactkd-checkpoint-2", "metadata": "{kind: student", "state": {}}, model)
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out"))
    assert f"checkpoint {model}: its metadata is not JSON" in err
    torch.save({"format": "reactkd-checkpoint-2", "metadata": "[1, 2]", "state": {}}, model)
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out"))
    assert "must be a JSON object" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_errors_do_not_blame_the_checkpoint(tmp_path, case_files, capsys):
    model = _student_checkpoint(tmp_path / "student.pt")
    argv = _predict(case_files, model, tmp_path / "out") + ["--device", "cuda"]
    err = _one_line_error(capsys, argv)
    assert "`--device` cuda: torch sees no CUDA device" in err and "checkpoint" not in err
    err = _one_line_error(capsys, _predict(case_files, model, tmp_path / "out") + ["--device", "gpu7"])
    assert "`--device` must be cpu, cuda or cuda:N, got 'gpu7'" in err
    with pytest.raises(DeviceUnavailableError, match=r"cannot load .*student\.pt onto device cuda"):
        load_checkpoint(model, map_location="cuda")


def test_a_valid_checkpoint_still_predicts(tmp_path, case_files, capsys):
    model = _student_checkpoint(tmp_path / "student.pt")
    assert main(_predict(case_files, model, tmp_path / "out")) == 0
    result = json.loads((tmp_path / "out" / "prediction.json").read_text())
    assert result["grade"] in (1, 2, 3)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["attention.nii.gz", "prediction.json"]


@pytest.mark.parametrize("command", ["predict", "train", "segment", "cohort"])
def test_out_pointing_at_an_existing_file_is_refused_before_the_job(tmp_path, case_files, capsys, command):
    out = tmp_path / "taken.txt"
    out.write_text("the user's file")
    argv = {"predict": _predict(case_files, tmp_path / "no-model.pt", out),
            "train": ["train", "--config", "demo-cpu", "--out", str(out)],
            "segment": ["segment", "--model", str(tmp_path / "no-model.pt"), "--ct", str(case_files["ct"]),
                        "--out", str(out)],
            "cohort": ["cohort", "--out", str(out)]}[command]
    err = _one_line_error(capsys, argv)
    assert f"`--out` {out} is an existing file, not a folder" in err
    assert out.read_text() == "the user's file"


def test_output_extension_no_writer_knows_is_refused_before_the_job(tmp_path, case_files, capsys):
    argv = ["simulate-dose", "--ct", str(tmp_path / "not-read.nii.gz"), "--level", "mild", "--out",
            str(tmp_path / "low.png")]
    err = _one_line_error(capsys, argv)  # the CT (missing here) is never opened: the output is checked first
    assert "no image writer knows the extension '.png'" in err
    err = _one_line_error(capsys, [*argv[:-1], str(tmp_path / "low")])
    assert "extension '(none)'" in err
    err = _one_line_error(capsys, [*argv[:-1], str(tmp_path / "missing-folder" / "low.nii.gz")])
    assert "`--out` folder does not exist" in err


@pytest.mark.parametrize("value,problem", [("nan", "must be a finite number, got nan"),
                                           ("inf", "must be a finite number, got inf"),
                                           ("-1", "must be >= 0, got -1")])
def test_min_tumor_ml_must_be_a_finite_non_negative_number(case_files, capsys, value, problem):
    argv = ["graph", "--ct", str(case_files["ct"]), "--liver", str(case_files["liver"]), "--tumor",
            str(case_files["tumor"]), f"--min-tumor-ml={value}"]
    err = _one_line_error(capsys, argv)
    assert f"`--min-tumor-ml` {problem}" in err
    assert main([*argv[:-1], "--min-tumor-ml=0", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["nodes"]) == 3


def test_warnings_are_one_line_each(tmp_path, case_files, toy_case_images, capsys):
    t = toy_case_images
    zero_pet = tmp_path / "pet.nii.gz"
    sitk.WriteImage(make_image(np.zeros((8, 8, 8), np.float32), spacing=(8, 8, 8), origin=t["geo"]["origin"]),
                    str(zero_pet))
    model = _student_checkpoint(tmp_path / "student.pt")
    assert main(_predict(case_files, model, tmp_path / "out") + ["--pet", str(zero_pet)]) == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert err and err[0].startswith("reactkd predict: warning: case ct.nii.gz: PET fdg: no voxel has positive uptake")


def test_out_of_memory_gets_advice_not_a_traceback(monkeypatch, capsys):
    import reactkd.cli as cli

    def oom(_args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    parser_argv = ["graph", "--ct", "x", "--liver", "y"]
    real = cli.build_parser

    def parser(*args, **kwargs):
        p = real(*args, **kwargs)
        p._subparsers._group_actions[0].choices["graph"].set_defaults(func=oom)
        return p

    monkeypatch.setattr(cli, "build_parser", parser)
    err = _one_line_error(capsys, parser_argv, code=3)
    assert "out of GPU memory (CUDA out of memory. Tried to allocate 2.00 GiB)" in err and "--device cpu" in err
    assert is_out_of_memory(MemoryError()) and is_out_of_memory(
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    advice = out_of_memory_advice(MemoryError(), "train")
    assert advice.startswith("out of CPU memory") and "stage1.batch_size=2" in advice and "grid_size" in advice
    assert "precision=bf16" in out_of_memory_advice(torch.OutOfMemoryError("CUDA out of memory"), "train")


def test_min_tumor_ml_nan_in_a_config_is_refused(toy_case_images):
    from reactkd.preprocess import region_graph

    t = toy_case_images
    case = load_case(t["ct"], t["liver"], t["tumor"], case_id="N")
    with pytest.raises(ValueError, match=r"`min_tumor_ml` must be a finite number >= 0, got nan"):
        region_graph(case, PreprocessConfig(min_tumor_ml=float("nan")))
