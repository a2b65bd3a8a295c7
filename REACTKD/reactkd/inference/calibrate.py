"""Post-hoc calibration of a trained run: each fold student's temperature, given by a calibration scheme
(:mod:`reactkd.evaluate.temperature_schemes`: ``per-fold``, ``pooled``, ``shrunk`` or ``none``) from the
students' logits on their folds' own inner validation splits (the cases that chose each best epoch;
:func:`reactkd.train.data.inner_split`, never a test fold), written to ``RUN/fold{k}/calibration.json``;
and the run's training domain (``RUN/training_domain.json``, see :mod:`reactkd.inference.domain`).

``calibration.json``: ``temperature``, ``scheme``, ``method``, ``validation_cases`` with the student's
``validation_logits`` (rounded to 6 decimals; the fit reads these) and ``validation_labels`` (0-based), and
the fold's validation ``nll``/``ece`` before and after. A run whose folds all hold the asked scheme and their
validation logits is left as it is (re-running resumes); another scheme is refitted from the stored logits
without running the students; ``force`` runs the students again.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from reactkd.cohort import read_folds
from reactkd.config.run_dir import read_run_config
from reactkd.evaluate.calibration import expected_calibration_error, negative_log_likelihood, scaled_probabilities
from reactkd.evaluate.temperature_schemes import DEFAULT_SCHEME, SCHEMES, temperature_scheme
from reactkd.inference.device import evaluation_runtime
from reactkd.inference.domain import case_statistics, read_domain, training_domain, write_domain
from reactkd.inference.load import load_student
from reactkd.train.data import inner_split, load_records, make_loader, run_caches
from reactkd.train.predict import predict_loader
from reactkd.utils.atomic import atomic_write_text

__all__ = ["calibrate_run", "read_calibration", "validation_arrays", "METHOD", "DEFAULT_SCHEME"]

METHOD = SCHEMES[DEFAULT_SCHEME].method
"""How the default scheme fits (each scheme's own sentence: ``SCHEMES[name].method``)."""

PRECISION = 6
"""Decimals of the stored validation logits (the temperature is fitted on the stored values)."""


def read_calibration(fold_dir: str | os.PathLike) -> dict | None:
    """A fold's ``calibration.json``, or None; a file written before schemes existed holds ``per-fold``."""
    path = Path(fold_dir) / "calibration.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    record.setdefault("scheme", "per-fold")
    return record


def validation_arrays(record: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """``(logits (N, K), labels (N,))`` stored in a fold's calibration record, or None when it has none."""
    if "validation_logits" not in record or "validation_labels" not in record:
        return None
    return np.asarray(record["validation_logits"], np.float64), np.asarray(record["validation_labels"], np.int64)


def _validation(run: Path, config, records, cache, runtime, k: int, test_ids: list[str]) -> dict:
    """Fold ``k``'s student on its own validation split: ``{case_id, logits (rounded), labels}``."""
    ckpt = run / f"fold{k}" / "student" / "best.pt"
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt} is missing: train the run first (reactkd train --out {run}).")
    test = set(test_ids)
    _, val = inner_split([r for r in records if r.case_id not in test], config.seed + k)  # as in training
    student, _ = load_student(ckpt)
    # students read no low-dose CT
    pred = predict_loader(student, make_loader(val, cache, None, config.stage2.batch_size, runtime, train=False),
                          runtime)
    return {"case_id": list(pred["case_id"]), "logits": np.round(pred["logits"].astype(np.float64), PRECISION),
            "labels": pred["label"].astype(np.int64)}


def _record(k: int, scheme: str, t: float, validation: dict) -> dict:
    z, y = validation["logits"], validation["labels"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"fold": k, "temperature": round(t, 6), "scheme": scheme, "method": SCHEMES[scheme].method,
                "validation_cases": validation["case_id"], "validation_logits": z.tolist(),
                "validation_labels": y.tolist(),
                "nll_before": round(negative_log_likelihood(z, y), 6),
                "nll_after": round(negative_log_likelihood(z, y, t), 6),
                "ece_before": round(expected_calibration_error(scaled_probabilities(z), y), 6),
                "ece_after": round(expected_calibration_error(scaled_probabilities(z, t), y), 6)}


def calibrate_run(run: str | os.PathLike, *, scheme: str | None = None, force: bool = False, log=print,
                  device: str | None = None, precision: str | None = None) -> list[dict]:
    """Give every fold its temperature by ``scheme`` (None: the scheme the run's folds were calibrated with,
    else :data:`DEFAULT_SCHEME`) and write it (and the training domain); returns the folds' records.
    Validation logits already stored are reused unless ``force``; the students run on the run's device and
    precision unless ``device`` / ``precision`` say otherwise
    (:func:`~reactkd.inference.device.evaluation_runtime`).

    Raises:
        ValueError: an unknown scheme (before any work).
        FileNotFoundError: not a run folder, or a fold without its trained student.
    """
    if scheme is not None:
        temperature_scheme(scheme)  # an unknown name is refused before any work
    run = Path(run)
    config = read_run_config(run)
    folds = read_folds(run / "folds.json")
    done = [read_calibration(run / f"fold{k}") for k in range(len(folds))]
    scheme = scheme or next((d["scheme"] for d in done if d is not None), DEFAULT_SCHEME)
    fit = temperature_scheme(scheme)
    stored = [None if d is None or force else validation_arrays(d) for d in done]
    records = load_records(config, run)
    if all(d is not None and d["scheme"] == scheme and s is not None for d, s in zip(done, stored)):
        out = done
    else:
        cache, _ = run_caches(config, run)
        runtime = evaluation_runtime(config, device, precision)
        validation = []
        for k, test_ids in enumerate(folds):
            if stored[k] is None:
                validation.append(_validation(run, config, records, cache, runtime, k, test_ids))
            else:
                validation.append({"case_id": done[k]["validation_cases"], "logits": stored[k][0],
                                   "labels": stored[k][1]})
        temperatures = fit([(v["logits"], v["labels"]) for v in validation])
        out = [_record(k, scheme, t, v) for k, (t, v) in enumerate(zip(temperatures, validation))]
        for record in out:
            atomic_write_text(run / f"fold{record['fold']}" / "calibration.json", json.dumps(record, indent=1))
            log(f"fold {record['fold']}: temperature {record['temperature']:.3f} ({scheme}) on "
                f"{len(record['validation_labels'])} validation case(s), NLL {record['nll_before']:.3f} → "
                f"{record['nll_after']:.3f}")
    if force or read_domain(run) is None:
        write_domain(run, training_domain([case_statistics(r.load()) for r in records]))
    return out
