"""Training from Slicer (console / PythonSlicer): ``reactkd train`` as a cancellable child process with
parsed progress, re-started on the same run folder (which the command line writes and resumes)."""

import pytest

from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.training import config_folds, run_blocking, start_training

pytestmark = pytest.mark.slow

TINY = ["data.phantom_patients=8", "data.folds=2", "stage1.epochs=1", "stage2.epochs=1", "teacher.depths=[1,1,1,1]",
        "data.dose_level=native"]


def test_config_folds():
    assert config_folds("demo-cpu") == 3
    assert config_folds("demo-cpu", ["data.folds=2"]) == 2


def test_train_cancel_then_resume_to_completion(tmp_path):
    run = tmp_path / "run"
    folds = config_folds("demo-cpu", TINY)
    proc = start_training("demo-cpu", str(run), device="cpu", overrides=TINY, report=False)
    seen = []

    def cancel_at_first_epoch(fraction, text):
        seen.append((fraction, text))
        if fraction is not None and not proc.cancelled:
            proc.cancel()

    code = run_blocking(proc, folds, cancel_at_first_epoch, timeout=120)
    assert proc.cancelled and code != 0
    assert (run / "config.yaml").is_file() and not list(run.glob("fold*/student/best.pt"))
    # resume: the same run folder is picked up (cohort and folds reused, not regenerated); stop at the
    # first epoch again (the core's own tests cover resuming to completion)
    stamps = {p: p.stat().st_mtime_ns for p in [run / "folds.json", *sorted((run / "cohort").rglob("*.csv"))]
              if p.is_file()}
    fractions = []
    proc = start_training("demo-cpu", str(run), device="cpu", overrides=TINY, report=False)

    def stop_at_first_epoch(fraction, text):
        if fraction is not None:
            fractions.append(fraction)
            proc.cancel()

    run_blocking(proc, folds, stop_at_first_epoch, timeout=180)
    assert fractions and fractions[0] == 0.0, "\n".join(proc.lines[-20:])
    assert stamps and all(p.stat().st_mtime_ns == t for p, t in stamps.items())
