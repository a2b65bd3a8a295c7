"""A tiny end-to-end run (2 folds, tiny models, 1–2 epochs): artefacts, resume after a crash, evaluation,
report and prediction on a real CT."""

import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import crash_at_last_checkpoint, tiny_experiment
from reactkd.cli import main
from reactkd.experiments.cross_validation import run_experiment

pytestmark = pytest.mark.slow


def tiny_config(manifest, **stage):
    return tiny_experiment(manifest, stage.get("epochs1", 1), stage.get("epochs2", 1))


@pytest.fixture(scope="module")
def cohort(tiny_cohort):
    return tiny_cohort


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, cohort):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    config = tiny_experiment(cohort, stage2={"epochs": 1, "batch_size": 4, "tensorboard": True})
    run_experiment(config, run, log=lambda *_: None)
    return run


def test_run_writes_every_artefact(trained_run):
    for k in (0, 1):
        fold = trained_run / f"fold{k}"
        for stage in ("teacher", "student"):
            for name in ("best.pt", "last.pt", "metrics.csv", "done.json"):
                assert (fold / stage / name).is_file(), fold / stage / name
        rows = list(csv.DictReader(open(fold / "predictions.csv")))
        assert rows and {"case_id", "patient_id", "grade", "prob_g1", "logit_g3"} <= set(rows[0])
        assert all(abs(sum(float(r[f"prob_g{g}"]) for g in (1, 2, 3)) - 1) < 1e-4 for r in rows)
    folds = json.loads((trained_run / "folds.json").read_text())["folds"]
    assert not set(folds[0]) & set(folds[1])
    from reactkd.train.checkpoint import load_checkpoint

    _, meta = load_checkpoint(trained_run / "fold0" / "student" / "best.pt")
    assert meta["kind"] == "student" and meta["grades"] == [1, 2, 3] and meta["preprocess"]["grid_size"] == 32
    assert meta["fold"] == 0 and "val_metrics" in meta and meta["config"]["name"] == "tiny"
    student_log = list(csv.DictReader(open(trained_run / "fold0" / "student" / "metrics.csv")))
    assert {"train_loss_kd", "train_loss_node", "train_loss_edge", "train_loss_gw", "val_auc"} <= set(student_log[0])


def test_tensorboard_log_matches_the_csv(trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    stage = trained_run / "fold0" / "student"
    events = EventAccumulator(str(stage / "tensorboard")).Reload()
    row = next(csv.DictReader(open(stage / "metrics.csv")))
    (loss,) = events.Scalars("val/loss")  # (val/auc is left out when a tiny split makes it NaN)
    assert loss.step == 1 and loss.value == pytest.approx(float(row["val_loss"]), abs=1e-5)
    assert "train/loss_kd" in events.Tags()["scalars"]
    assert not (trained_run / "fold0" / "teacher" / "tensorboard").exists()  # off unless asked


def test_report_and_evaluations(trained_run, cohort, capsys):
    assert main(["evaluate", "--run", str(trained_run)]) == 0
    report = trained_run / "report"
    for name in ("index.md", "summary.csv", "roc_student.png", "dca_high_grade.png", "training.png"):
        assert (report / name).is_file() and (report / name).stat().st_size > 100
    assert "| student |" in (report / "index.md").read_text()
    topology = list(report.glob("topology_*.png"))  # CT slice with the node-attention map over it
    assert topology and topology[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["evaluate", "--run", str(trained_run), "--withhold", "pet"]) == 0
    assert main(["evaluate", "--run", str(trained_run), "--dose", "severe"]) == 0
    assert (trained_run / "eval" / "cv_dose-severe_all-inputs" / "summary.csv").is_file()
    # external evaluation: every fold's student predicts every case of another manifest, mixed dose
    assert main(["evaluate", "--run", str(trained_run), "--manifest", str(cohort), "--dose", "mixed"]) == 0
    ext = trained_run / "eval" / "manifest_dose-mixed_all-inputs"
    n_cases = len(open(cohort).read().strip().splitlines()) - 1
    assert all(len(open(ext / f"fold{k}" / "predictions.csv").read().strip().splitlines()) == n_cases + 1
               for k in (0, 1))
    assert main(["evaluate", "--run", str(trained_run), "--dose", "extreme"]) == 2
    assert "`dose` must be one of" in capsys.readouterr().err


def test_resume_after_a_crash_loses_nothing(tmp_path, cohort, monkeypatch):
    restore = crash_at_last_checkpoint(monkeypatch, 2)  # killed while finishing the teacher's 2nd epoch
    config = tiny_config(cohort, epochs1=3)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, tmp_path / "run", log=lambda *_: None)
    teacher = tmp_path / "run" / "fold0" / "teacher"
    assert not (teacher / "done.json").exists()
    assert [r["epoch"] for r in csv.DictReader(open(teacher / "metrics.csv"))] == ["1", "2"]
    restore()
    run_experiment(config, tmp_path / "run", log=lambda *_: None)
    assert [r["epoch"] for r in csv.DictReader(open(teacher / "metrics.csv"))] == ["1", "2", "3"]
    assert (tmp_path / "run" / "fold1" / "predictions.csv").is_file()


def test_predict_on_real_ct_puts_attention_inside_the_liver(trained_run, real_dir, tmp_path):
    d = real_dir / "totalsegmentator"
    ct = sitk.ReadImage(str(d / "example_ct_sm.nii.gz"))
    liver = sitk.GetArrayFromImage(sitk.ReadImage(str(d / "example_seg.nii.gz"))) == 5
    tumor = np.zeros_like(liver)
    inside = np.argwhere(liver)
    for c in inside[[len(inside) // 3, 2 * len(inside) // 3]]:  # two synthetic lesions inside the real liver
        tumor[c[0] - 1:c[0] + 2, c[1] - 2:c[1] + 3, c[2] - 2:c[2] + 3] = True
    tumor &= liver
    t_img = sitk.GetImageFromArray(tumor.astype(np.uint8))
    t_img.CopyInformation(ct)
    sitk.WriteImage(t_img, str(tmp_path / "tumor.nii.gz"))
    out = tmp_path / "pred"
    rc = main(["predict", "--model", str(trained_run), "--ct", str(d / "example_ct_sm.nii.gz"),
               "--liver", f"{d / 'example_seg.nii.gz'}:5", "--tumor", str(tmp_path / "tumor.nii.gz"),
               "--out", str(out)])
    assert rc == 0
    result = json.loads((out / "prediction.json").read_text())
    assert set(result["probabilities"]) == {"1", "2", "3"} and result["grade"] in (1, 2, 3)
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-4
    assert [n["kind"] for n in result["nodes"]] == ["liver", "tumor", "tumor"]
    assert abs(sum(n["attention"] for n in result["nodes"]) - 1) < 1e-4
    att = sitk.ReadImage(str(out / "attention.nii.gz"))
    seg = sitk.ReadImage(str(d / "example_seg.nii.gz"))
    arr = sitk.GetArrayFromImage(att)
    assert (arr > 0).any()
    for idx in np.argwhere(arr > 0)[::97]:  # world point of each lit voxel falls in the liver label
        world = att.TransformIndexToPhysicalPoint([int(v) for v in idx[::-1]])
        assert seg[seg.TransformPhysicalPointToIndex(world)] == 5
