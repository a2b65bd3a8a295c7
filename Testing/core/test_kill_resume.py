"""A tiny training run SIGKILLed and resumed ends exactly where an uninterrupted run ends.

Two kills with :mod:`kill_resume_harness` (``benchmarks/kill_resume.py`` sweeps ten random points with
it): one mid-epoch in fold 0's second teacher epoch — where the shuffle and augmentation streams used to
restart from their seeds, changing the teacher and the student — and one mid-way through writing a
checkpoint. Each is resumed in a fresh process; predictions and every epoch's losses and validation
metrics must equal the uninterrupted run's, no completed epoch trained twice, every file readable.
"""

import signal

import pytest
from kill_resume_harness import sweep

pytestmark = pytest.mark.slow


def test_sigkill_mid_epoch_and_mid_checkpoint_then_resume_is_exact(tmp_path):
    # fold 0 has 2 training steps per epoch: step 3 is the first of teacher epoch 2; save 4 is the 4th
    # checkpoint written (best.pt and last.pt after each improving epoch), cut half-way.
    report = sweep(0, 0, tmp_path, epochs=(2, 1), picks=["batch:3", "save:4"])
    for trial in report["trials"]:
        assert trial["kill_exit"] == -signal.SIGKILL and trial["killed_at"], trial
        assert trial["finished"] and trial["resumes"] == 1, trial
        assert trial["corrupt_files"] == [] and trial["bad_metrics_csv"] == {}, trial
        assert trial["completed_epochs_retrained"] == [], trial
        assert trial["predictions_identical"] and trial["metrics_identical"], trial
    assert report["trials"][0]["killed_at"] == "killed batch"
    assert report["trials"][0]["epochs_completed_before_kill"] == 1  # killed in epoch 2: epoch 1 was kept
    assert report["trials"][1]["killed_at"].startswith("killed save ")
