"""On a tiny trained run (2 folds): post-hoc calibration on each fold's own validation split, the fold
ensemble's prediction with uncertainty, batch grading (equal to per-case `predict`, resumable, a bad case
skipped) and the report's calibration section and self-contained index.html."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import tiny_experiment
from reactkd.cli import main
from reactkd.cohort import read_folds, read_manifest
from reactkd.experiments.cross_validation import run_experiment
from reactkd.inference.calibrate import calibrate_run
from reactkd.inference.ensemble import load_ensemble, predict_with_ensemble
from reactkd.inference.run_eval import evaluate_run
from reactkd.report.calibration import ensemble_calibration
from reactkd.report.run_report import write_report
from reactkd.train.data import inner_split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(tiny_cohort, tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "run"
    run_experiment(tiny_experiment(tiny_cohort), run, log=lambda *_: None)
    return run


def _subset_manifest(source: Path, case_ids: list[str], target: Path, corrupt: str | None = None) -> Path:
    """A manifest of some cases (paths made absolute); ``corrupt``: that case's CT replaced by garbage."""
    with open(source, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["case_id"] in case_ids]
    for r in rows:
        for key in ("ct", "pet_fdg", "pet_acetate", "liver_mask", "tumor_mask"):
            if r.get(key):
                r[key] = str((source.parent / r[key]).resolve())
        if r["case_id"] == corrupt:
            bad = target.parent / "broken_ct.nii.gz"
            bad.write_bytes(b"not an image")
            r["ct"] = str(bad)
    with open(target, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return target


def test_calibration_is_fitted_on_each_folds_own_validation_split(tiny_run, tiny_cohort):
    records = read_manifest(tiny_cohort)
    folds = calibrate_run(tiny_run, log=lambda *_: None)
    config_seed = tiny_experiment(tiny_cohort).seed
    for k, test_ids in enumerate(read_folds(tiny_run / "folds.json")):
        saved = json.loads((tiny_run / f"fold{k}" / "calibration.json").read_text())
        assert saved == folds[k] and 0.05 <= saved["temperature"] <= 20
        _, val = inner_split([r for r in records if r.case_id not in set(test_ids)], config_seed + k)
        assert sorted(saved["validation_cases"]) == sorted(r.case_id for r in val)
        assert not set(saved["validation_cases"]) & set(test_ids)  # never the held-out fold
        assert saved["nll_after"] <= saved["nll_before"] + 1e-9
    domain = json.loads((tiny_run / "training_domain.json").read_text())
    assert domain["cases"] == len(records) and len(domain["spacing_mm"]["min"]) == 3


def test_batch_grading_equals_per_case_predict(tiny_run, tiny_cohort, tmp_path, capsys):
    calibrate_run(tiny_run, log=lambda *_: None)
    held_out = read_folds(tiny_run / "folds.json")[0][:3]
    manifest = _subset_manifest(tiny_cohort, held_out, tmp_path / "held_out.csv")
    assert main(["predict", "--model", str(tiny_run), "--manifest", str(manifest),
                 "--out", str(tmp_path / "batch")]) == 0
    out = capsys.readouterr().out
    assert f"[1/3] {held_out[0]}: grade" in out and "3 graded" in out
    with open(tmp_path / "batch" / "grades.csv", newline="") as f:
        rows = {r["case_id"]: r for r in csv.DictReader(f)}
    assert list(rows) == held_out
    for record in read_manifest(manifest):
        args = ["predict", "--model", str(tiny_run), "--ct", str(record.ct), "--liver", record.liver_mask,
                "--tumor", record.tumor_mask, "--out", str(tmp_path / "one" / record.case_id)]
        for tracer, path in record.pets.items():
            args += ["--pet", f"{tracer}={path}"]
        assert main(args) == 0
        one = json.loads((tmp_path / "one" / record.case_id / "prediction.json").read_text())
        batch = json.loads((tmp_path / "batch" / record.case_id / "prediction.json").read_text())
        for key in ("probabilities", "grade", "uncertainty", "members", "nodes", "edges", "domain_warnings"):
            assert one[key] == batch[key], key
        a = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "one" / record.case_id / "attention.nii.gz")))
        b = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "batch" / record.case_id / "attention.nii.gz")))
        assert np.array_equal(a, b)
        row = rows[record.case_id]
        assert row["status"] == "ok" and int(row["grade"]) == batch["grade"]
        assert float(row["p_G2"]) == batch["probabilities"]["2"]
        assert float(row["std_G2"]) == batch["uncertainty"]["probability_std"]["2"]
        assert float(row["node0_attention"]) == batch["nodes"][0]["attention"] and row["node0_kind"] == "liver"
        # the ensemble: both fold students, each with its own temperature; the mean is their average
        assert [m["fold"] for m in batch["members"]] == [0, 1] and batch["uncertainty"]["calibrated"]
        mean = np.mean([[m["probabilities"][g] for g in "123"] for m in batch["members"]], 0)
        assert np.allclose(mean, [batch["probabilities"][g] for g in "123"], atol=2e-6)
        spread = np.std([[m["probabilities"][g] for g in "123"] for m in batch["members"]], 0)
        assert np.allclose(spread, [batch["uncertainty"]["probability_std"][g] for g in "123"], atol=2e-6)


def test_batch_resumes_and_skips_a_bad_case(tiny_run, tiny_cohort, tmp_path, capsys):
    ids = read_folds(tiny_run / "folds.json")[1][:3]
    manifest = _subset_manifest(tiny_cohort, ids, tmp_path / "m.csv", corrupt=ids[1])
    out = tmp_path / "batch"
    assert main(["predict", "--model", str(tiny_run), "--manifest", str(manifest), "--out", str(out)]) == 1
    text = capsys.readouterr()
    assert f"[2/3] {ids[1]}: FAILED, skipped" in text.out and f"[3/3] {ids[2]}: grade" in text.out
    assert "1 case(s) failed" in text.err and "Traceback" not in text.err
    with open(out / "grades.csv", newline="") as f:
        status = {r["case_id"]: r["status"] for r in csv.DictReader(f)}
    assert status[ids[0]] == status[ids[2]] == "ok" and status[ids[1]].startswith("failed: ")
    first = (out / ids[0] / "prediction.json").stat().st_mtime_ns
    shutil.rmtree(out / ids[2])
    assert main(["predict", "--model", str(tiny_run), "--manifest", str(manifest), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert f"[1/3] {ids[0]}: done before, skipped" in text and f"[3/3] {ids[2]}: grade" in text
    assert (out / ids[0] / "prediction.json").stat().st_mtime_ns == first  # not graded again
    assert (out / ids[2] / "prediction.json").is_file()


def test_batch_refuses_a_folder_of_another_model(tiny_run, tiny_cohort, tmp_path, capsys):
    manifest = _subset_manifest(tiny_cohort, read_folds(tiny_run / "folds.json")[0][:1], tmp_path / "m.csv")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["predict", "--model", str(tiny_run), "--manifest", str(manifest),
                 "--out", str(tmp_path / "mine")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_report_has_calibration_and_a_self_contained_html(tiny_run):
    index = write_report(tiny_run)
    md = index.read_text()
    assert "## Calibration" in md and "temperature-scaled" in md and "![reliability.png](reliability.png)" in md
    html = (index.parent / "index.html").read_text()
    assert html.count("data:image/png;base64,") == md.count("![")  # every figure embedded
    assert 'src="' not in html.replace('src="data:', "")  # and nothing fetched
    assert "<table>" in html and "<script" not in html
    with open(index.parent / "calibration.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["fold"] for r in rows] == ["0", "1", "pooled"]


def test_ensemble_calibration_on_an_external_cohort_matches_predict(tiny_run, tiny_cohort):
    calibrate_run(tiny_run, log=lambda *_: None)
    eval_dir = evaluate_run(tiny_run, manifest=str(tiny_cohort))  # every fold student on every case
    result = ensemble_calibration(tiny_run, eval_dir)
    assert result["members"] == 2 and result["n"] == len(read_manifest(tiny_cohort))
    assert 0 <= result["ece_after"] <= 1 and 0 <= result["ece_before"] <= 1
    record = read_manifest(tiny_cohort)[0]
    probs, _ = predict_with_ensemble(load_ensemble(tiny_run), record.load())
    row = list(result["case_id"]).index(record.case_id)
    np.testing.assert_allclose([probs["probabilities"][g] for g in "123"], result["probs"][row], atol=2e-3)
    md = write_report(tiny_run).read_text()
    assert "external cohort `manifest`" in md and "reliability_ensemble_manifest.png" in md


def test_predict_in_bf16_agrees_with_fp32(tiny_run, tiny_cohort, tmp_path, capsys):
    record = read_manifest(tiny_cohort)[0]
    probs = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        args = ["predict", "--model", str(tiny_run), "--ct", str(record.ct), "--liver", record.liver_mask,
                "--tumor", record.tumor_mask, "--out", str(out), "--precision", precision]
        for tracer, path in record.pets.items():
            args += ["--pet", f"{tracer}={path}"]
        assert main(args) == 0
        probs[precision] = json.loads((out / "prediction.json").read_text())["probabilities"]
    assert probs["fp32"] != probs["bf16"]  # bf16 really ran: its rounding moves the probabilities
    for g in "123":
        assert abs(probs["fp32"][g] - probs["bf16"][g]) < 0.02
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(tiny_run), "--ct", str(record.ct), "--liver", record.liver_mask,
              "--out", str(tmp_path / "x"), "--precision", "fp8"])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
