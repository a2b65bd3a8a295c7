"""``benchmarks/gpu_check.py --smoke`` on the CPU: the GPU check's own code runs end to end at tiny sizes
and writes its documented JSON object (the figures mean nothing here; the keys and the pipeline do)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, benchmark_script

SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def bench():
    return benchmark_script("gpu_check")


@pytest.mark.slow
def test_smoke_run_writes_one_json_object_with_every_figure(tmp_path):
    out = tmp_path / "check"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    # the last thing printed is the same object
    assert json.loads(done.stdout[done.stdout.rindex("\n{\n") + 1:]) == report
    assert report["ok"] is True and report["smoke"] is True and report["device"] == "cpu"
    assert report["config"] == "paper" and report["grid"] == 64
    assert report["batch"] == {"teacher": 2, "student": 4}
    e2e = report["end_to_end"]
    assert e2e["ok"] is True, e2e
    for key in ("cohort_s", "train_s", "evaluate_s", "peak_rss_gib"):
        assert e2e[key] > 0, key
    for stage in ("teacher", "student"):
        assert e2e[stage]["epochs"] == 1 and e2e[stage]["epoch_s"] > 0 and e2e[stage]["cases_per_s"] > 0
    assert e2e["test_cases"] >= 1 and {"teacher_auc", "student_auc"} <= set(e2e)
    for precision in ("fp32", "bf16"):
        assert set(report["steps"][precision]) == {"contiguous", "channels_last_3d"}
        for figures in report["steps"][precision].values():
            assert set(figures) == {"teacher", "student_reactkd"}
            for step in figures.values():
                assert step["finite"] is True and step["step_s"] > 0 and step["samples_per_s"] > 0
    # one fold of the paper config: fold 0 trained, predicted and reported; no other fold started
    run = out / "run"
    assert len(json.loads((run / "folds.json").read_text())["folds"]) == 1
    assert (run / "fold0" / "predictions.csv").is_file() and not (run / "fold1").exists()
    assert (run / "report" / "index.md").is_file()
    assert "format: reactkd-config-2" in (out / "config.yaml").read_text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_asked_for_without_cuda_is_refused_before_any_work(bench, tmp_path, capsys):
    assert bench.main(["--out", str(tmp_path / "x")]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_non_empty_out_folder_is_refused(bench, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep")
    assert bench.main(["--smoke", "--out", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_smoke_defaults_are_small_and_the_gpu_defaults_the_papers(bench):
    smoke = bench.parse_args(["--smoke", "--out", "x"])
    assert (smoke.device, smoke.epochs, smoke.patients, smoke.steps) == ("cpu", 1, 8, 1)
    assert smoke.precisions == ["fp32", "bf16"]
    full = bench.parse_args(["--out", "x"])
    assert (full.device, full.precision, full.epochs, full.patients) == ("cuda", "bf16", 3, 16)
    assert full.precisions == ["fp32", "bf16", "fp16"]
    config = bench.paper_config("cpu", "bf16", 3, False, [])
    assert config.teacher.feature_size == 48 and config.data.preprocess["grid_size"] == 96
    assert (config.stage1.epochs, config.stage2.epochs, config.precision.value) == (3, 3, "bf16")
