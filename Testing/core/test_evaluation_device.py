"""Evaluation on the run's device and precision (``reactkd evaluate``, ``calibrate``, ``robustness``, ``dose``,
the report), ``--device`` / ``--precision`` overriding them; Table IV on an external CT-only cohort; an
evaluation of a folder that is not a run writes nothing."""

import csv
import shutil

import pytest
import torch
import yaml

from conftest import tiny_experiment
from reactkd.cli import main
from reactkd.config.schema import Precision
from reactkd.experiments.cross_validation import run_experiment
from reactkd.inference.device import evaluation_runtime
from reactkd.phantom.cohort import generate_cohort


def _config(**keys):
    return tiny_experiment("m.csv", **keys)


@pytest.fixture()
def cuda_present(monkeypatch):
    """Torch believes in one CUDA device (nothing runs on it: the tests only look at what is chosen)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)


@pytest.fixture()
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_a_run_configured_for_cuda_evaluates_on_cuda_in_its_precision(cuda_present):
    runtime = evaluation_runtime(_config(device="cuda", precision="bf16"))
    assert runtime.device == torch.device("cuda", 0) and runtime.precision is Precision.BF16
    auto = evaluation_runtime(_config(device="auto", precision="fp16"))
    assert auto.device.type == "cuda" and auto.precision is Precision.FP16
    # the overrides win
    cpu = evaluation_runtime(_config(device="cuda", precision="bf16"), device="cpu", precision="fp32")
    assert cpu.device.type == "cpu" and cpu.precision is Precision.FP32
    assert evaluation_runtime(_config(device="cpu"), device="cuda").device.type == "cuda"


def test_a_cuda_run_on_a_machine_without_cuda_falls_back_to_the_cpu_in_fp32(no_cuda):
    with pytest.warns(UserWarning, match="configured for CUDA, which this machine lacks.*CPU in fp32"):
        runtime = evaluation_runtime(_config(device="cuda", precision="bf16"))
    assert runtime.device.type == "cpu" and runtime.precision is Precision.FP32
    with pytest.warns(UserWarning, match="configured for CUDA"):
        asked = evaluation_runtime(_config(device="cuda", precision="fp16"), precision="bf16")
    assert asked.device.type == "cpu" and asked.precision is Precision.BF16  # an asked-for precision stays
    # fp16 only from the config (device auto on a CPU machine): fp32; asked for on the CPU: refused
    assert evaluation_runtime(_config(device="auto", precision="fp16")).precision is Precision.FP32
    with pytest.raises(ValueError, match="`--precision fp16` needs CUDA"):
        evaluation_runtime(_config(device="cpu"), precision="fp16")
    with pytest.raises(ValueError, match="`--device cuda`: torch sees no CUDA device"):
        evaluation_runtime(_config(device="cpu"), device="cuda")
    with pytest.raises(ValueError, match="`--device` must be one of"):
        evaluation_runtime(_config(), device="gpu")
    cpu = evaluation_runtime(_config(device="cpu", precision="bf16"))
    assert cpu.device.type == "cpu" and cpu.precision is Precision.BF16  # a CPU run keeps its own precision


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_cohort):
    run = tmp_path_factory.mktemp("devrun") / "run"
    run_experiment(tiny_experiment(tiny_cohort), run, log=lambda *_: None)
    return run


def _recording(monkeypatch, module):
    """Wrap ``module.predict_loader`` so each call's runtime is recorded (and it still predicts, on the CPU)."""
    from reactkd.train.predict import predict_loader
    from reactkd.train.runtime import Runtime

    seen = []

    def record(model, loader, runtime, *args, **kwargs):
        seen.append((runtime.device.type, runtime.precision.value))
        return predict_loader(model, loader, Runtime.create("cpu", "fp32"), *args, **kwargs)

    monkeypatch.setattr(module, "predict_loader", record)
    return seen


@pytest.mark.slow
def test_evaluate_and_calibrate_use_the_configured_device_and_the_overrides(tiny_run, tmp_path, monkeypatch,
                                                                            cuda_present):
    import reactkd.inference.calibrate as calibrate
    import reactkd.inference.run_eval as run_eval

    run = shutil.copytree(tiny_run, tmp_path / "run")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config.update(device="cuda", precision="bf16")  # as if it had trained on a GPU
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    seen = _recording(monkeypatch, run_eval)
    assert main(["evaluate", "--run", str(run), "--withhold", "pet"]) == 0
    assert seen and set(seen) == {("cuda", "bf16")}
    seen.clear()
    assert main(["evaluate", "--run", str(run), "--dose", "mild", "--device", "cpu", "--precision", "fp32"]) == 0
    assert set(seen) == {("cpu", "fp32")}
    seen = _recording(monkeypatch, calibrate)
    assert main(["calibrate", "--run", str(run), "--force", "--precision", "fp16"]) == 0
    assert set(seen) == {("cuda", "fp16")}


@pytest.mark.slow
def test_robustness_and_dose_take_the_overrides(tiny_run, tmp_path, monkeypatch):
    import reactkd.inference.run_eval as run_eval

    run = shutil.copytree(tiny_run, tmp_path / "run")
    seen = _recording(monkeypatch, run_eval)
    assert main(["robustness", "--run", str(run), "--precision", "bf16"]) == 0
    assert set(seen) == {("cpu", "bf16")} and len(seen) == 3 * 2  # 3 conditions x 2 folds


def test_cuda_asked_for_where_there_is_none_is_one_line_and_writes_nothing(tiny_run, tmp_path, capsys, no_cuda):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    for argv in (["evaluate", "--run", str(run)], ["evaluate", "--run", str(run), "--withhold", "pet"],
                 ["calibrate", "--run", str(run)], ["robustness", "--run", str(run)], ["dose", "--run", str(run)]):
        assert main([*argv, "--device", "cuda"]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "`--device cuda`: torch sees no CUDA device" in err[0], (argv, err)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_evaluating_a_folder_that_is_not_a_run_writes_nothing_into_it(tmp_path, capsys):
    folder = tmp_path / "not-a-run"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    for argv in (["evaluate", "--run", str(folder)], ["calibrate", "--run", str(folder)]):
        assert main(argv) == 2
        assert "is not a REACTKD run folder" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]  # no report/, no eval/


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_evaluate_runs_on_a_real_cuda_device(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    assert main(["evaluate", "--run", str(run), "--withhold", "pet", "--device", "cuda", "--precision", "bf16"]) == 0
    assert (run / "eval" / "cv_native_no-pet" / "summary.csv").is_file()


@pytest.mark.slow
def test_table_iv_on_an_external_ct_only_manifest(tiny_run, tmp_path, capsys):
    """``reactkd dose --run RUN --manifest EXTERNAL``: every fold student grades every external case from its
    CT alone, at every dose, with the liver noise measured on each case's acquired grid."""
    run = shutil.copytree(tiny_run, tmp_path / "run")
    external = generate_cohort(tmp_path / "ext", n_patients=3, seed=5, size=(48, 48, 32), site="external")
    rows = list(csv.DictReader(open(external, newline="")))
    assert rows and all(not r["pet_fdg"] and not r["pet_acetate"] for r in rows)  # CT only
    assert main(["dose", "--run", str(run), "--manifest", str(external)]) == 0
    table = run / "tables" / f"table4_dose_{external.stem}.md"
    text = table.read_text()
    assert f"on {external.name}" in text and "Liver noise (HU)" in text
    for label in ("native", "mild (50 % dose)", "severe (25 % dose)", "mixed"):
        assert f"| {label} |" in text, label
    numeric = list(csv.DictReader(open(run / "tables" / f"table4_dose_{external.stem}_numeric.csv", newline="")))
    noise = {r["CT dose"]: float(r["liver_noise_hu_mean"]) for r in numeric}
    assert noise["native"] < noise["mild (50 % dose)"] < noise["severe (25 % dose)"]
    assert (run / "tables" / f"table4_dose_{external.stem}_response.md").is_file()
    predictions = list(csv.DictReader(open(run / "eval" / f"{external.stem}_dose-severe_all-inputs" / "fold0"
                                           / "predictions.csv", newline="")))
    assert {r["case_id"] for r in predictions} == {r["case_id"] for r in rows}
