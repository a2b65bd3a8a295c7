"""The run report's calibration section: out-of-fold expected calibration error and a reliability diagram,
uncalibrated against temperature-scaled.

Each fold student grades its own held-out fold (``fold{k}/predictions.csv``, logits kept); "calibrated"
divides those logits by the fold's temperature (``fold{k}/calibration.json``), given by the run's calibration
scheme (:mod:`reactkd.evaluate.temperature_schemes`) from the folds' validation splits only, so no held-out
case takes part in fitting the temperature that scales it. The all-fold ensemble
(``reactkd predict --model RUN``) cannot be scored on these folds — every case trained all but one of its
members — so its calibration is the members' calibration, measured here; on an external cohort
``reactkd evaluate --manifest`` scores it directly.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from reactkd.evaluate.calibration import reliability_bins, scaled_probabilities
from reactkd.evaluate.figures import plot_reliability
from reactkd.evaluate.predictions import read_predictions
from reactkd.evaluate.temperature_schemes import SCHEMES
from reactkd.inference.calibrate import calibrate_run, read_calibration

__all__ = ["calibration_section", "out_of_fold_calibration", "ensemble_calibration", "cohort_logits", "EXTERNAL_SUFFIX"]

EXTERNAL_SUFFIX = "_native_all-inputs"
"""``RUN/eval/<manifest stem>_native_all-inputs/``: ``reactkd evaluate --run RUN --manifest M`` (every fold
student predicts every case of another cohort), where the ensemble can be scored."""


def out_of_fold_calibration(run: str | os.PathLike, n_bins: int = 10) -> dict | None:
    """``{"folds": [{fold, temperature, n, ece_before, ece_after, scheme}], "pooled": {...}, "bins": {label:
    ReliabilityBins}}`` over the folds with both predictions and a temperature, or None when there are none."""
    run = Path(run)
    rows, before, after, labels = [], [], [], []
    for path in sorted(run.glob("fold*/predictions.csv"), key=lambda p: int(p.parent.name[4:])):
        calibration = read_calibration(path.parent)
        if calibration is None:
            continue
        table = read_predictions(path)
        t, y = float(calibration["temperature"]), table.labels
        p0, p1 = scaled_probabilities(table.logits), scaled_probabilities(table.logits, t)
        rows.append({"fold": int(path.parent.name[4:]), "temperature": t, "n": len(y),
                     "ece_before": reliability_bins(p0, y, n_bins).ece,
                     "ece_after": reliability_bins(p1, y, n_bins).ece, "scheme": calibration["scheme"]})
        before.append(p0), after.append(p1), labels.append(y)
    if not rows:
        return None
    y = np.concatenate(labels)
    bins = {"uncalibrated": reliability_bins(np.concatenate(before), y, n_bins),
            "temperature-scaled": reliability_bins(np.concatenate(after), y, n_bins)}
    schemes = sorted({r["scheme"] for r in rows})
    pooled = {"n": len(y), "ece_before": bins["uncalibrated"].ece, "ece_after": bins["temperature-scaled"].ece,
              "scheme": "+".join(schemes)}
    return {"folds": rows, "pooled": pooled, "bins": bins}


def cohort_logits(eval_dir: str | os.PathLike) -> dict | None:
    """Every fold student on the same external cohort (``eval_dir/fold{k}/predictions.csv``), cases sorted by
    id: ``{"case_id" (N,), "labels" (N,) 0-based, "folds": [k], "logits": [(N, K) per fold]}``; None without
    the files.

    Raises:
        ValueError: the folds' files do not hold the same cases.
    """
    folds, logits, labels, ids = [], [], None, None
    for path in sorted(Path(eval_dir).glob("fold*/predictions.csv"), key=lambda p: int(p.parent.name[4:])):
        table = read_predictions(path)
        order = np.argsort(table.case_id)
        if ids is not None and not np.array_equal(table.case_id[order], ids):
            raise ValueError(f"{path}: not the same cases as the other folds' predictions.")
        ids, labels = table.case_id[order], table.labels[order]
        folds.append(int(path.parent.name[4:]))
        logits.append(table.logits[order])
    return None if ids is None else {"case_id": ids, "labels": labels, "folds": folds, "logits": logits}


def ensemble_calibration(run: str | os.PathLike, eval_dir: str | os.PathLike, n_bins: int = 10) -> dict | None:
    """The fold ensemble on an external cohort (``eval_dir/fold{k}/predictions.csv``: fold student ``k`` on
    every case): ``{"n", "members", "ece_before", "ece_after", "bins", "case_id", "probs" (calibrated)}``
    for the mean of the students' softmax without and with their temperatures — what
    ``reactkd predict --model RUN`` returns; None without the files."""
    cohort = cohort_logits(eval_dir)
    if cohort is None:
        return None
    calibrations = [read_calibration(Path(run) / f"fold{k}") for k in cohort["folds"]]
    if any(c is None for c in calibrations):
        return None
    labels = cohort["labels"]
    raw = [scaled_probabilities(z) for z in cohort["logits"]]
    scaled = [scaled_probabilities(z, float(c["temperature"])) for z, c in zip(cohort["logits"], calibrations)]
    bins = {"ensemble, uncalibrated": reliability_bins(np.mean(raw, 0), labels, n_bins),
            "ensemble, temperature-scaled": reliability_bins(np.mean(scaled, 0), labels, n_bins)}
    return {"n": len(labels), "members": len(raw), "ece_before": bins["ensemble, uncalibrated"].ece,
            "ece_after": bins["ensemble, temperature-scaled"].ece, "bins": bins, "case_id": cohort["case_id"],
            "probs": np.mean(scaled, 0)}


def _external_lines(run: Path, out: Path) -> tuple[list[str], list[str]]:
    lines, figures = [], []
    for eval_dir in sorted((run / "eval").glob(f"*{EXTERNAL_SUFFIX}")):
        if eval_dir.name.startswith("cv_"):
            continue
        result = ensemble_calibration(run, eval_dir)
        if result is None:
            continue
        cohort = eval_dir.name.removesuffix(EXTERNAL_SUFFIX)
        name = f"reliability_ensemble_{cohort}.png"
        plot_reliability(result["bins"], out / name, title=f"Reliability — fold ensemble on {cohort}")
        lines += [f"The ensemble of the {result['members']} fold students on the external cohort `{cohort}` "
                  f"({result['n']} cases no student trained on): **ECE {result['ece_before']:.3f} uncalibrated → "
                  f"{result['ece_after']:.3f} temperature-scaled**.", ""]
        figures.append(name)
    return lines, figures


def calibration_section(run: Path, out: Path, *, device: str | None = None,
                        precision: str | None = None) -> tuple[list[str], list[str]]:
    """Calibrate the run where it is not yet (see :func:`calibrate_run`; ``device`` / ``precision`` override
    the run's), then ``(markdown lines, figures)``; writes ``out/calibration.csv`` and ``out/reliability.png``."""
    if not all((d / "student" / "best.pt").is_file() for d in run.glob("fold*") if d.is_dir()):
        return [], []
    try:
        calibrate_run(run, log=lambda *_: None, device=device, precision=precision)
    except (FileNotFoundError, ValueError) as err:
        return ["## Calibration", "", f"Not calibrated: {err}", ""], []
    result = out_of_fold_calibration(run)
    if result is None:
        return [], []
    with open(out / "calibration.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["fold", "temperature", "n", "ece_before", "ece_after", "scheme"])
        w.writeheader()
        w.writerows(result["folds"])
        w.writerow({"fold": "pooled", **result["pooled"]})
    plot_reliability(result["bins"], out / "reliability.png", title="Reliability — students on held-out folds")
    p = result["pooled"]
    method = SCHEMES[p["scheme"]].method if p["scheme"] in SCHEMES else "mixed schemes"
    lines = ["## Calibration", "",
             f"Expected calibration error (top grade, 10 bins) of the fold students on their held-out folds, "
             f"pooled over {p['n']} cases: **{p['ece_before']:.3f} uncalibrated → {p['ece_after']:.3f} "
             f"temperature-scaled**. Calibration scheme `{p['scheme']}`: {method}; no held-out case fits the "
             "temperature that scales it (`reactkd calibrate --run RUN --scheme NAME` refits it by another "
             "scheme). `reactkd predict --model RUN` averages the calibrated fold students.", "",
             "| fold | temperature | n | ECE uncalibrated | ECE calibrated |", "|---|---|---|---|---|"]
    lines += [f"| {r['fold']} | {r['temperature']:.3f} | {r['n']} | {r['ece_before']:.3f} | {r['ece_after']:.3f} |"
              for r in result["folds"]]
    lines += [f"| pooled | | {p['n']} | {p['ece_before']:.3f} | {p['ece_after']:.3f} |", ""]
    external, figures = _external_lines(run, out)
    return lines + external, ["reliability.png", *figures]
