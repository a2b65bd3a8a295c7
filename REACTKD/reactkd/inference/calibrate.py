"""Post-hoc calibration of a trained run: each fold student's temperature, fitted on that fold's own
inner validation split (the cases that chose its best epoch; :func:`reactkd.train.data.inner_split`,
never its test fold), written to ``RUN/fold{k}/calibration.json``; and the run's training domain
(``RUN/training_domain.json``, see :mod:`reactkd.inference.domain`).

``calibration.json``: ``temperature``, ``validation_cases``, validation ``nll``/``ece`` before and after,
and ``method``. Folds already calibrated are skipped (re-running resumes; ``force`` refits).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from reactkd.cohort import read_folds
from reactkd.config.run_dir import read_run_config
from reactkd.evaluate.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    scaled_probabilities,
)
from reactkd.inference.device import evaluation_runtime
from reactkd.inference.domain import case_statistics, read_domain, training_domain, write_domain
from reactkd.inference.load import load_student
from reactkd.train.data import inner_split, load_records, make_loader, run_caches
from reactkd.train.predict import predict_loader

__all__ = ["calibrate_run", "read_calibration", "METHOD"]

METHOD = "temperature scaling (Guo et al., ICML 2017), T fitted by L-BFGS on the fold's validation NLL"


def read_calibration(fold_dir: str | os.PathLike) -> dict | None:
    path = Path(fold_dir) / "calibration.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def calibrate_run(run: str | os.PathLike, *, force: bool = False, log=print, device: str | None = None,
                  precision: str | None = None) -> list[dict]:
    """Fit and write every fold's temperature (and the training domain); returns the folds' records. The
    students run on the run's device and precision unless ``device`` / ``precision`` say otherwise
    (:func:`~reactkd.inference.device.evaluation_runtime`).

    Raises:
        FileNotFoundError: not a run folder, or a fold without its trained student.
    """
    run = Path(run)
    config = read_run_config(run)
    records = load_records(config, run)
    folds = read_folds(run / "folds.json")
    cache, _ = run_caches(config, run)
    runtime = evaluation_runtime(config, device, precision)
    out = []
    for k, test_ids in enumerate(folds):
        fold_dir = run / f"fold{k}"
        done = read_calibration(fold_dir)
        if done is not None and not force:
            out.append(done)
            continue
        ckpt = fold_dir / "student" / "best.pt"
        if not ckpt.is_file():
            raise FileNotFoundError(f"{ckpt} is missing: train the run first (reactkd train --out {run}).")
        test = set(test_ids)
        _, val = inner_split([r for r in records if r.case_id not in test], config.seed + k)  # as in training
        student, _ = load_student(ckpt)
        # students read no low-dose CT
        loader = make_loader(val, cache, None, config.stage2.batch_size, runtime, train=False)
        pred = predict_loader(student, loader, runtime)
        logits, labels = pred["logits"], pred["label"]
        t = fit_temperature(logits, labels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record = {"fold": k, "temperature": round(t, 6), "method": METHOD, "validation_cases": pred["case_id"],
                      "nll_before": round(negative_log_likelihood(logits, labels), 6),
                      "nll_after": round(negative_log_likelihood(logits, labels, t), 6),
                      "ece_before": round(expected_calibration_error(scaled_probabilities(logits), labels), 6),
                      "ece_after": round(expected_calibration_error(scaled_probabilities(logits, t), labels), 6)}
        _write_json(fold_dir / "calibration.json", record)
        log(f"fold {k}: temperature {t:.3f} on {len(labels)} validation case(s), NLL {record['nll_before']:.3f} → "
            f"{record['nll_after']:.3f}")
        out.append(record)
    if force or read_domain(run) is None:
        write_domain(run, training_domain([case_statistics(r.load()) for r in records]))
    return out
