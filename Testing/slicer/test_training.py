"""Training from Slicer (console / PythonSlicer): ``reactkd train`` as a cancellable child process with
parsed progress, re-started on the same run folder (which the command line writes and resumes)."""

import pytest
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.training import config_folds, run_blocking, start_training

TINY = ["data.phantom_patients=8", "data.folds=2", "stage1.epochs=1", "stage2.epochs=1", "teacher.depths=[1,1,1,1]",
        "data.dose_level=native"]


def test_config_folds():
    assert config_folds("demo-cpu") == 3
    assert config_folds("demo-cpu", ["data.folds=2"]) == 2


@pytest.mark.slow
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


def test_auto_device_is_left_to_the_training_process(monkeypatch):
    """``auto`` goes to ``reactkd train`` as is (its config resolves it with torch): Slicer's process never
    imports torch to start a run."""
    import REACTKDLib.training as training

    started = {}

    class Recorder:
        def __init__(self, command, env=None):
            started["command"], started["env"] = command, env

    monkeypatch.setattr(training, "BackgroundProcess", Recorder)
    training.start_training("demo-cpu", "runs/x", device="auto", overrides=["data.folds=2"])
    assert started["command"][-4:] == ["--set", "data.folds=2", "--set", "device=auto"]
    assert "CUDA_VISIBLE_DEVICES" not in started["env"] or started["env"]["CUDA_VISIBLE_DEVICES"] != ""


def test_a_training_run_reports_progress_to_a_timer():
    from REACTKDLib.training import TrainingRun

    class Lines:
        def __init__(self):
            self.batches = [["fold 0 teacher 1/4: 0%"], ["noise", "fold 1 student 3/4: 50%"], []]
            self.cancelled = False

        def poll(self):
            return self.batches.pop(0) if self.batches else []

        running = property(lambda self: bool(self.batches))
        returncode = property(lambda self: None if self.batches else 0)

        def cancel(self):
            self.cancelled = True

    run = TrainingRun(Lines(), "runs/x", folds=2)
    assert (run.fraction, run.text) == (0.0, "starting…")
    assert (run.poll() == ["fold 0 teacher 1/4: 0%"] and run.fraction == 0.0
            and run.text == "fold 1/2: teacher epoch 1/4")
    run.poll()
    assert abs(run.fraction - (3 + 2 / 4) / 4) < 1e-9 and run.text == "fold 2/2: student epoch 3/4"
    run.cancel()
    assert run.process.cancelled


def test_scripted_training_waits_keep_drawing():
    import sys

    from REACTKDLib.process import BackgroundProcess

    drawn, seen = [], []
    proc = BackgroundProcess([sys.executable, "-c",
                              "import time; print('fold 0 teacher 1/2: 0%', flush=True); time.sleep(0.4)"])
    assert run_blocking(proc, 1, lambda f, t: seen.append((f, t)), timeout=30,
                        process_events=lambda: drawn.append(1)) == 0
    assert seen == [(0.0, "fold 1/1: teacher epoch 1/2")] and len(drawn) >= 5
