"""Training from Slicer (console / PythonSlicer): ``reactkd train`` as a cancellable, resumable child
process with parsed progress, writing the same run folder as the command line."""

import pytest

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
    # resume: the cohort and folds are reused; stop once the first stage of fold 0 has finished
    folds_json = (run / "folds.json").read_text() if (run / "folds.json").is_file() else None
    fractions = []
    proc = start_training("demo-cpu", str(run), device="cpu", overrides=TINY, report=False)

    def stop_after_first_stage(fraction, text):
        if fraction is not None:
            fractions.append(fraction)
        if "teacher best epoch" in text and not proc.cancelled:
            proc.cancel()

    run_blocking(proc, folds, stop_after_first_stage, timeout=180)
    assert (run / "fold0" / "teacher" / "best.pt").is_file(), "\n".join(proc.lines[-20:])
    assert folds_json is None or (run / "folds.json").read_text() == folds_json
    assert fractions == sorted(fractions) and fractions[-1] == 0.25  # fold 1 of 2, teacher done
