"""The trait oracle: per fold, a logistic regression on the phantom's hidden traits of the training patients,
scored on the held-out patients; reference rows only where the run's cohort is the phantom."""

import json

import numpy as np
import pytest
import yaml

from reactkd.cohort import patient_folds, read_manifest, write_folds
from reactkd.phantom.oracle import CT_TRAITS, ORACLE_ROWS, oracle_rows, run_truth, trait_features, trait_oracle


def _run(tmp_path, manifest, name="run"):
    run = tmp_path / name
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"manifest": str(manifest)}}))
    write_folds(patient_folds(read_manifest(manifest), 2, 0), run / "folds.json")
    return run


def test_oracle_rows_on_the_phantom_runs_folds(tmp_path, tiny_cohort):
    run = _run(tmp_path, tiny_cohort)
    truth = run_truth(run)
    assert truth is not None and len(truth) == len(read_manifest(tiny_cohort))
    rows = trait_oracle(run)
    assert list(rows) == list(ORACLE_ROWS) and all(len(folds) == 2 for folds in rows.values())
    assert all(0 <= m["auc"] <= 1 or np.isnan(m["auc"]) for folds in rows.values() for m in folds)
    x = trait_features(truth, sorted(truth), CT_TRAITS)
    assert x.shape == (len(truth), len(CT_TRAITS)) and np.all(np.isfinite(x)) and x[:, 0].max() >= 1
    pooled = oracle_rows([run, _run(tmp_path, tiny_cohort, "seed1")])
    assert list(pooled) == list(ORACLE_ROWS) and pooled["trait oracle (all)"]["auc"].n <= 4


def test_the_oracle_learns_a_grade_linked_trait_and_not_noise(tmp_path, tiny_cohort):
    run = _run(tmp_path, tiny_cohort)
    truth = run_truth(run)
    rng = np.random.default_rng(0)
    rigged = {c: {**t, "fdg_tlr": float(t["grade"]), "acetate_tlr": float(t["grade"]) ** 2,
                  **{k: float(rng.normal()) for k in ("washout_hu", "texture_hu", "necrosis", "n_tumours",
                                                       "dispersed_satellites")}, "tumour_ml": [float(rng.random())]}
              for c, t in truth.items()}
    rows = trait_oracle(run, truth=rigged)
    pet = np.nanmean([m["auc"] for m in rows["trait oracle (PET)"]])
    ct = np.nanmean([m["auc"] for m in rows["trait oracle (CT)"]])
    assert pet == pytest.approx(1.0) and ct < pet


def test_no_oracle_without_the_phantom_and_clear_errors(tmp_path, tiny_cohort):
    real = tmp_path / "real"
    real.mkdir()
    run = _run(tmp_path, tiny_cohort)
    # no cohort.json
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"manifest": str(real / "manifest.csv")}}))
    assert run_truth(run) is None and trait_oracle(run) == {} and oracle_rows([run]) == {}
    meta = json.loads((tiny_cohort.parent / "cohort.json").read_text())
    case = meta["cases"][0]
    with pytest.raises(ValueError, match=rf"case '{case['case_id']}' lacks the trait `washout_hu`"):
        trait_features({case["case_id"]: {k: v for k, v in case.items() if k != "washout_hu"}}, [case["case_id"]],
                       CT_TRAITS)
    with pytest.raises(ValueError, match="cohort.json has no truth for cases \\['nope'\\]"):
        trait_features({}, ["nope"], CT_TRAITS)
    (run / "folds.json").unlink()
    with pytest.raises(FileNotFoundError, match="has no folds.json"):
        trait_oracle(run, truth={})
