"""Calibration schemes (reactkd.evaluate.temperature_schemes) on synthetic logits with known answers; on a tiny
trained run: calibration.json keeps the scheme and the validation logits, another scheme refits from them
without running the students, the ensemble and the report read the result, an unknown scheme is one line;
and the scheme benchmark (benchmarks/calibration_schemes.py) end to end."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import benchmark_script, tiny_experiment
from reactkd.cli import main
from reactkd.cohort import read_manifest
from reactkd.evaluate.calibration import fit_temperature, scaled_probabilities
from reactkd.evaluate.temperature_schemes import (
    DEFAULT_SCHEME,
    SCHEMES,
    SHRINK_N0,
    pooled_temperatures,
    shrunk_temperatures,
    temperature_scheme,
)


def _fold(n: int, true_t: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` cases whose labels are drawn from ``softmax(z / true_t)``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, 3))
    p = scaled_probabilities(z, true_t)
    return z, np.array([rng.choice(3, p=row) for row in p])


FOLDS = [_fold(12, 0.7, 0), _fold(10, 1.5, 1), _fold(14, 3.0, 2)]


def test_per_fold_fits_each_fold_alone():
    assert SCHEMES["per-fold"](FOLDS) == [fit_temperature(z, y) for z, y in FOLDS]
    assert DEFAULT_SCHEME in SCHEMES


def test_pooled_is_one_temperature_fitted_on_every_folds_validation_cases():
    ts = SCHEMES["pooled"](FOLDS)
    assert len(ts) == 3 and len(set(ts)) == 1
    assert ts[0] == fit_temperature(np.concatenate([z for z, _ in FOLDS]), np.concatenate([y for _, y in FOLDS]))
    own = SCHEMES["per-fold"](FOLDS)
    assert min(own) < ts[0] < max(own)  # between the folds' own fits


def test_shrunk_lies_between_one_and_the_folds_own_fit_in_log_space():
    own, shrunk = SCHEMES["per-fold"](FOLDS), SCHEMES["shrunk"](FOLDS)
    for (_, y), t_own, t in zip(FOLDS, own, shrunk):
        assert np.log(t) == pytest.approx(len(y) / (len(y) + SHRINK_N0) * np.log(t_own))
        assert 0 < np.log(t) / np.log(t_own) < 1  # same side of 1, nearer to it
    assert shrunk_temperatures(FOLDS, n0=0) == pytest.approx(own)  # no prior: the per-fold fit
    with pytest.raises(ValueError, match="n0"):
        shrunk_temperatures(FOLDS, n0=-1)


def test_shrunk_tends_to_the_per_fold_fit_as_the_folds_grow():
    z, y = FOLDS[2]
    own = np.log(fit_temperature(z, y))
    gaps = []
    for m in (1, 10, 100):  # the same cases m times: the same fit, m times the evidence
        t = shrunk_temperatures([(np.tile(z, (m, 1)), np.tile(y, m))])[0]
        gaps.append(abs(np.log(t) - own))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.02 * abs(own)


def test_none_is_one_and_an_unknown_scheme_is_one_line_naming_the_choices(capsys, tmp_path):
    assert SCHEMES["none"](FOLDS) == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError) as err:
        temperature_scheme("isotonic")
    assert "\n" not in str(err.value) and all(name in str(err.value) for name in SCHEMES)
    with pytest.raises(ValueError, match="at least one fold"):
        SCHEMES["pooled"]([])
    assert main(["calibrate", "--run", str(tmp_path), "--scheme", "isotonic"]) == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "'isotonic'" in message and "per-fold, pooled, shrunk, none" in message


# --- on a tiny trained run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tiny_cohort, tmp_path_factory):
    from reactkd.experiments.cross_validation import run_experiment

    run = tmp_path_factory.mktemp("run") / "run"
    run_experiment(tiny_experiment(tiny_cohort), run, log=lambda *_: None)
    return run


def _stored(run) -> list[dict]:
    return [json.loads((run / f"fold{k}" / "calibration.json").read_text()) for k in range(2)]


@pytest.mark.slow
def test_calibration_json_keeps_the_scheme_and_refits_another_from_the_stored_logits(tiny_run, tmp_path,
                                                                                      monkeypatch, capsys):
    import reactkd.inference.calibrate as calibrate
    from reactkd.inference.ensemble import load_ensemble
    from reactkd.report.run_report import write_report

    run = shutil.copytree(tiny_run, tmp_path / "run")
    assert {s["scheme"] for s in calibrate.calibrate_run(run, log=lambda *_: None)} == {DEFAULT_SCHEME}
    first = calibrate.calibrate_run(run, scheme="per-fold", log=lambda *_: None)
    saved = _stored(run)
    assert saved == first and {s["scheme"] for s in saved} == {"per-fold"}
    for s in saved:
        z, y = np.asarray(s["validation_logits"]), np.asarray(s["validation_labels"])
        assert z.shape == (len(s["validation_cases"]), 3) and y.shape == (len(z),)
        assert s["temperature"] == round(fit_temperature(z, y), 6)  # refittable from the file alone
        assert calibrate.read_calibration(run / f"fold{s['fold']}") == s

    def no_students(*_a, **_k):
        raise AssertionError("a refit from stored logits ran a student")

    monkeypatch.setattr(calibrate, "predict_loader", no_students)
    assert main(["calibrate", "--run", str(run), "--scheme", "pooled"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("pooled: fold 0: T = ")
    pooled = _stored(run)
    expected = pooled_temperatures([(np.asarray(s["validation_logits"]), np.asarray(s["validation_labels"]))
                                    for s in saved])
    assert [s["temperature"] for s in pooled] == [round(t, 6) for t in expected]
    assert {s["scheme"] for s in pooled} == {"pooled"} and pooled[0]["method"] == SCHEMES["pooled"].method
    assert [s["validation_logits"] for s in pooled] == [s["validation_logits"] for s in saved]
    # no scheme named: the run keeps the one it has; the ensemble reads its temperatures
    assert calibrate.calibrate_run(run, log=lambda *_: None) == pooled
    ensemble = load_ensemble(run)
    assert [m.temperature for m in ensemble.members] == [s["temperature"] for s in pooled]
    assert all(m.calibrated for m in ensemble.members)
    md = write_report(run).read_text()
    assert "Calibration scheme `pooled`" in md
    csv_text = (run / "report" / "calibration.csv").read_text()
    assert csv_text.splitlines()[0].endswith(",scheme") and csv_text.count(",pooled") == 3
    assert main(["calibrate", "--run", str(run), "--scheme", "none"]) == 0
    assert [s["temperature"] for s in _stored(run)] == [1.0, 1.0]


@pytest.mark.slow
def test_a_file_without_validation_logits_is_upgraded_with_the_same_temperature(tiny_run, tmp_path):
    from reactkd.inference.calibrate import calibrate_run

    run = shutil.copytree(tiny_run, tmp_path / "run")
    new = calibrate_run(run, scheme="per-fold", log=lambda *_: None)
    for s in new:  # as written before schemes: no scheme, no logits
        old = {k: v for k, v in s.items() if k not in ("scheme", "validation_logits", "validation_labels")}
        (run / f"fold{s['fold']}" / "calibration.json").write_text(json.dumps(old))
    again = calibrate_run(run, log=lambda *_: None)
    assert [s["temperature"] for s in again] == pytest.approx([s["temperature"] for s in new], abs=1e-5)
    assert all("validation_logits" in s and s["scheme"] == "per-fold" for s in _stored(run))


@pytest.mark.slow
def test_the_scheme_benchmark_measures_every_scheme_on_held_out_folds_and_a_cohort(tiny_run, tiny_cohort,
                                                                                  tmp_path, capsys):
    from reactkd.report.calibration import out_of_fold_calibration

    bench = benchmark_script("calibration_schemes")
    run = shutil.copytree(tiny_run, tmp_path / "run")
    out = tmp_path / "r.json"
    # the training cohort stands in for a fresh one here: only the plumbing is tested
    assert bench.main([str(run), "--fresh", str(tiny_cohort), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("| scheme | held-out ECE |") and "| none |" in text and "(baseline)" in text
    result = json.loads(out.read_text())
    assert result["schemes"] == list(SCHEMES) and result["runs"] == ["run"]  # relative to the JSON's folder
    assert (out.parent / result["fresh"]).resolve() == tiny_cohort.resolve()
    measured = result["per_run"]["run"]
    assert measured["none"]["temperatures"] == [1.0, 1.0]
    assert len(set(measured["pooled"]["temperatures"])) == 1
    cases = len(read_manifest(tiny_cohort))  # every case once: held out by its fold, and on the cohort
    assert measured["none"]["fresh_cases"] == cases and measured["none"]["held_out_cases"] == cases
    # the uncalibrated held-out ECE is the report's "before"; the run's own (the default) scheme its "after"
    oof = out_of_fold_calibration(run)
    assert measured["none"]["held_out"]["ece"] == pytest.approx(oof["pooled"]["ece_before"])
    assert measured[DEFAULT_SCHEME]["held_out"]["ece"] == pytest.approx(oof["pooled"]["ece_after"], abs=1e-4)
    assert (run / "eval" / "manifest_native_all-inputs" / "fold1" / "predictions.csv").is_file()
    summary = result["summary"]
    assert set(summary["shrunk"]) >= {"held_out_ece", "fresh_ece", "lowers_ece"} and not summary["none"]["lowers_ece"]
    assert bench.main([str(run), "--schemes", "isotonic"]) == 2
    assert "unknown calibration scheme 'isotonic'" in capsys.readouterr().err
