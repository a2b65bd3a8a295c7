#!/usr/bin/env python3
"""Which calibration scheme lowers the expected calibration error of trained runs: on held-out folds, and for
the fold ensemble on a fresh cohort.

For each run (e.g. the same config trained with several seeds) and each scheme of
:mod:`reactkd.evaluate.temperature_schemes` (``per-fold``, ``pooled``, ``shrunk``, ``none``), the fold
temperatures are refitted in memory from the fold students' validation logits stored in
``RUN/fold{k}/calibration.json`` (``reactkd calibrate`` stores them; where they are missing the run is
calibrated first, by the scheme it already has, else the default). The run's own calibration is not changed.
Two scores per scheme, each the top-label ECE over 10 equal-width bins (Guo et al., ICML 2017, eq. 3) and
the mean negative log-likelihood:

- ``held_out``: every fold student on its own test fold (``RUN/fold{k}/predictions.csv``, logits divided by
  that fold's temperature), pooled over the folds — no held-out case fits the temperature that scales it;
- ``fresh`` (with ``--fresh MANIFEST``): the fold ensemble — the mean of the students' temperature-scaled
  softmax, what ``reactkd predict --model RUN`` returns — on every case of another cohort
  (``RUN/eval/<manifest stem>_native_all-inputs/fold{k}/predictions.csv``, written by
  ``reactkd evaluate --run RUN --manifest MANIFEST``; evaluated here where it is missing). The cohort must
  hold no case the runs trained on, e.g. a phantom cohort of another seed
  (``reactkd cohort --out DIR --seed 100 --size 96 96 64`` for the demo's grid).

``none`` is the uncalibrated baseline; a scheme "lowers both" when its mean ECE over the runs is below
``none``'s on held-out folds and, with ``--fresh``, on the fresh cohort. Prints a markdown table (mean ± sample
standard deviation over the runs) and the JSON object (per run and scheme: temperatures and scores). With
``--out``, the runs and the fresh manifest are named relative to the JSON file's folder, so the JSON and the runs
may move together (``reactkd results --calibration FILE.json`` reads it and stamps it from those runs).

Usage (seconds per run on a CPU; evaluating a fresh cohort runs every fold student once per case)::

    python benchmarks/calibration_schemes.py RUN [RUN ...] [--fresh MANIFEST] [--out result.json]
        [--schemes per-fold pooled shrunk none] [--device cpu] [--precision fp32]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from reactkd.evaluate.calibration import expected_calibration_error, scaled_probabilities
from reactkd.evaluate.predictions import read_predictions
from reactkd.evaluate.temperature_schemes import SCHEMES, temperature_scheme
from reactkd.inference.calibrate import calibrate_run, validation_arrays
from reactkd.inference.run_eval import eval_tag, evaluate_run
from reactkd.report.calibration import cohort_logits

N_BINS = 10


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean ``-log p_y`` of probabilities ``(N, K)`` for 0-based labels ``(N,)``."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, None))))


def scores(probs: np.ndarray, labels: np.ndarray) -> dict:
    return {"ece": expected_calibration_error(probs, labels, N_BINS), "nll": nll(probs, labels)}


def validation_logits(run: Path, device: str | None, precision: str | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each fold's stored validation ``(logits, labels)``; the run is calibrated first where they are missing."""
    records = calibrate_run(run, log=lambda *_: None, device=device, precision=precision)
    return [validation_arrays(r) for r in records]


def held_out(run: Path, n_folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each fold student's ``(logits, labels)`` on its own test fold."""
    out = []
    for k in range(n_folds):
        path = run / f"fold{k}" / "predictions.csv"
        if not path.is_file():
            raise ValueError(f"{path} is missing: evaluate the run first (reactkd evaluate --run {run}).")
        table = read_predictions(path)
        out.append((table.logits, table.labels))
    return out


def fresh_cohort(run: Path, manifest: Path, n_folds: int, device: str | None, precision: str | None) -> dict:
    """Every fold student's logits on every case of ``manifest`` (evaluated where not yet)."""
    cohort = cohort_logits(run / "eval" / eval_tag(str(manifest), None, None))
    if cohort is None or cohort["folds"] != list(range(n_folds)):
        cohort = cohort_logits(evaluate_run(run, manifest=str(manifest), device=device, precision=precision))
    return cohort


def measure_run(run: Path, schemes: list[str], manifest: Path | None, device: str | None = None,
                precision: str | None = None) -> dict:
    """``{scheme: {"temperatures", "held_out": {ece, nll}, "fresh": {ece, nll} or None}}`` for one run."""
    validation = validation_logits(run, device, precision)
    test = held_out(run, len(validation))
    cohort = fresh_cohort(run, manifest, len(validation), device, precision) if manifest else None
    labels = np.concatenate([y for _, y in test])
    out = {}
    for name in schemes:
        temperatures = SCHEMES[name](validation)
        probs = np.concatenate([scaled_probabilities(z, t) for (z, _), t in zip(test, temperatures)])
        fresh = None
        if cohort is not None:
            mean = np.mean([scaled_probabilities(z, t) for z, t in zip(cohort["logits"], temperatures)], 0)
            fresh = scores(mean, cohort["labels"])
        out[name] = {"temperatures": [round(t, 4) for t in temperatures], "held_out": scores(probs, labels),
                     "fresh": fresh, "held_out_cases": int(len(labels)),
                     "fresh_cases": None if cohort is None else int(len(cohort["labels"]))}
    return out


def _spread(values: list[float]) -> dict:
    a = np.asarray(values, np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0, "runs": len(a)}


def summarise(per_run: dict[str, dict], schemes: list[str]) -> dict:
    """Per scheme: mean and sample std over the runs of each score, and whether it lowers the mean ECE of
    ``none`` (uncalibrated) on held-out folds and, where measured, on the fresh cohort."""
    summary = {}
    for name in schemes:
        row = {f"{where}_{score}": _spread([r[name][where][score] for r in per_run.values()])
               for where in ("held_out", "fresh") for score in ("ece", "nll")
               if all(r[name][where] is not None for r in per_run.values())}
        summary[name] = row
    if "none" in summary:
        for row in summary.values():
            wheres = [w for w in ("held_out", "fresh") if f"{w}_ece" in row]
            row["lowers_ece"] = all(row[f"{w}_ece"]["mean"] < summary["none"][f"{w}_ece"]["mean"] for w in wheres)
    return summary


def markdown_table(summary: dict) -> str:
    def cell(row: dict, key: str) -> str:
        return f"{row[key]['mean']:.3f} ± {row[key]['std']:.3f}" if key in row else "—"

    lines = ["| scheme | held-out ECE | held-out NLL | fresh-cohort ensemble ECE | fresh-cohort ensemble NLL "
             "| lowers ECE in both |", "|---|---|---|---|---|---|"]
    for name, row in summary.items():
        lowers = {True: "yes", False: "no", None: "—"}[row.get("lowers_ece")] if name != "none" else "(baseline)"
        lines.append(f"| {name} | {cell(row, 'held_out_ece')} | {cell(row, 'held_out_nll')} | "
                     f"{cell(row, 'fresh_ece')} | {cell(row, 'fresh_nll')} | {lowers} |")
    return "\n".join(lines) + "\n"


def named(path: Path, out: Path | None) -> str:
    """``path`` as the JSON names it: relative to the folder of ``out`` (POSIX separators), else as given."""
    if out is None:
        return str(path)
    try:
        return Path(os.path.relpath(path.resolve(), out.resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows): no relative path
        return str(path.resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="trained run folders (e.g. seeds)")
    parser.add_argument("--fresh", type=Path, metavar="MANIFEST", help="a cohort none of the runs trained on")
    parser.add_argument("--schemes", nargs="+", default=list(SCHEMES), metavar="NAME",
                        help=f"schemes to compare (default: all, {' '.join(SCHEMES)})")
    parser.add_argument("--device", help="evaluate on this device (default: each run's own)")
    parser.add_argument("--precision", help="evaluate in this precision (default: each run's own)")
    parser.add_argument("--out", type=Path, help="also write the JSON object here")
    args = parser.parse_args(argv)
    try:
        for name in args.schemes:
            temperature_scheme(name)
        for run in args.runs:
            if not (run / "folds.json").is_file():
                raise ValueError(f"{run}: not a run folder (no folds.json).")
        if args.fresh is not None and not args.fresh.is_file():
            raise ValueError(f"--fresh {args.fresh}: no such manifest.")
        per_run = {named(run, args.out): measure_run(run, args.schemes, args.fresh, args.device, args.precision)
                   for run in args.runs}
    except (ValueError, FileNotFoundError) as exc:
        print(f"calibration_schemes: {exc}", file=sys.stderr)
        return 2
    summary = summarise(per_run, args.schemes)
    result = {"runs": [named(r, args.out) for r in args.runs],
              "fresh": None if args.fresh is None else named(args.fresh, args.out),
              "n_bins": N_BINS, "schemes": args.schemes, "per_run": per_run, "summary": summary}
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(markdown_table(summary))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
