#!/usr/bin/env python3
"""A GPU check: ``paper.yaml`` end to end on a small phantom, then step timings per precision and memory format.

Writes one JSON object to ``--out/gpu_check.json`` (and prints it last, alone on its lines):

1. ``end_to_end``: the shipped ``paper`` config (SwinUNETR-48 teachers, 96³ grid, bf16, batch 2 / 8,
   4 loader workers, REACT-KD with Gromov–Wasserstein) on a small phantom cohort (``--patients``, CT
   acquired at ``--acquisition``), **one fold** (the run's ``folds.json`` is written with fold 0 alone
   before ``reactkd train`` starts, so the run trains and predicts that fold only) for ``--epochs``
   epochs per stage, then ``reactkd evaluate --run`` (the report). Wall time of each phase, median
   epoch time and cases per second of each stage (from ``metrics.csv``), peak GPU memory over training,
   and the fold's held-out AUC of teacher and student (a functional figure: a few test cases).
2. ``steps``: the same config's teacher in a supervised step and its student in a REACT-KD step, for
   each precision (fp32, bf16, fp16 on CUDA) and memory format (contiguous NCDHW, channels-last-3d):
   median step time over ``--steps`` steps after warm-up steps, samples per second, peak GPU memory,
   and whether every loss and gradient stayed finite. Training runs the memory format the performance
   policy picks (:func:`reactkd.train.performance.resolve_memory_format`: contiguous on CUDA); these
   figures say whether channels-last helps there.

``--smoke`` runs the same code on the CPU at tiny sizes (Swin feature 12 with one block per stage, a 64³
grid, 8 phantom patients, one epoch per stage, one timed step) in about 45 s on one core: that is how CI
keeps the script working (``Testing/core/test_gpu_check_smoke.py``). Exit code 0 when every part ran and
every step was finite. The smoke grid is 64³, not the demo's 32³: at 32³ the Swin encoder's level-3 map
is 2³, and torch 2.13's oneDNN bf16 Conv3d weight gradient on a 2³ map with a 3³ kernel comes out
non-finite in a fifth to a third of the backward passes of MONAI's residual block (none with oneDNN
disabled, none on 3³ or larger maps), which would make the bf16 smoke fail at random.

Run it anywhere the package's dependencies are importable, with a CUDA build of torch:
``PYTHONPATH=REACTKD python3 benchmarks/gpu_check.py --out DIR``. It names any missing dependency (MONAI,
POT, SimpleITK, pydicom, nibabel, highdicom, slicerio, …) in one line before it starts. On a machine without
a package index, download the wheels elsewhere (``pip download --no-deps --only-binary=:all:
--python-version X.Y --platform manylinux2014_x86_64 -d wheels PACKAGE==VERSION …``) and install them there
with ``pip install --no-index --no-deps --target SITE wheels/*.whl``, then put ``SITE`` on ``PYTHONPATH``.

Sized for 10 minutes on one H100 with the defaults (16 patients at 96 × 96 × 64, 3 + 3 epochs, 5 timed
steps): the phantom's scanner model and the low-dose simulation run on the CPU and take most of the
first part; ``--skip-steps`` or ``--skip-end-to-end`` runs one part alone.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import resource
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

REQUIRED = ("monai", "ot", "SimpleITK", "pydicom", "nibabel", "highdicom", "slicerio", "einops", "yaml", "sklearn",
            "skimage", "markdown")
"""Import names the end-to-end run needs beyond torch (checked before any work)."""

SMOKE = ["teacher.feature_size=12", "teacher.fusion_channels=16", "teacher.window_size=4",
         "teacher.depths=[1,1,1,1]", "data.preprocess.grid_size=64", "stage1.num_workers=0",
         "stage2.num_workers=0", "stage2.batch_size=4"]
"""``--set`` overrides that shrink ``paper.yaml`` to CPU size for ``--smoke`` (the rest stays the paper's)."""

FORMATS = {"contiguous": torch.contiguous_format, "channels_last_3d": torch.channels_last_3d}


def paper_config(device: str, precision: str, epochs: int, smoke: bool, extra: list[str]):
    """``paper.yaml`` with the check's device, precision, epochs (and the smoke sizes), plus ``extra``."""
    from reactkd.config import load_config
    from reactkd.config.shipped import resolve_config_path

    overrides = [f"device={device}", f"precision={precision}", f"stage1.epochs={epochs}", f"stage2.epochs={epochs}"]
    return load_config(resolve_config_path("paper"), (SMOKE if smoke else []) + overrides + list(extra))


# ----------------------------------------------------------------------------------------------- steps

def synthetic_batch(b: int, s: int, device: torch.device, seed: int = 0) -> dict:
    """A batch laid out like the data layer's: CT, 2 PETs, low-dose CT, liver + 2 tumour ROI masks."""
    g = torch.Generator().manual_seed(seed)
    batch = {"ct": torch.randn(b, 1, s, s, s, generator=g), "pet": torch.randn(b, 2, s, s, s, generator=g),
             "ct_lowdose": torch.randn(b, 1, s, s, s, generator=g), "label": torch.arange(b) % 3,
             "pet_present": torch.ones(b, 2, dtype=torch.bool)}
    m = torch.zeros(b, 3, s, s, s)
    q = s // 8
    m[:, 0, q:7 * q, q:7 * q, q:7 * q] = 1
    m[:, 1, 2 * q:3 * q, 2 * q:3 * q, 2 * q:3 * q] = 1
    m[::2, 2, 4 * q:5 * q, 4 * q:5 * q, 4 * q:5 * q] = 1  # every other case has a second tumour
    batch["roi_masks"] = m
    batch["roi_valid"] = m.flatten(2).sum(2) > 0
    return batch


def _time_steps(step, batch_size: int, steps: int, warmup: int, device: torch.device) -> dict:
    finite = True
    for _ in range(warmup):
        finite &= step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        finite &= step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    out = {"step_s": round(step_s, 5), "samples_per_s": round(batch_size / step_s, 3), "finite": bool(finite)}
    if device.type == "cuda":
        out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return out


def _runner(module, batch: dict, runtime):
    """One optimisation step of ``module`` on ``batch`` as the training loop takes it; returns finiteness."""
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    scaler = runtime.grad_scaler()
    batch = runtime.to_device(batch)

    def step() -> bool:
        opt.zero_grad(set_to_none=True)
        with runtime.autocast():
            _, losses = module(batch)
            loss = sum(losses.values())
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        grads = [p.grad for p in params if p.grad is not None]
        ok = bool(torch.isfinite(loss)) and all(bool(torch.isfinite(g).all()) for g in grads)
        scaler.step(opt)
        scaler.update()
        return ok
    return step


def step_figures(config, precision: str, memory_format: str, steps: int, warmup: int) -> dict:
    """Median step time, throughput, peak memory and finiteness of the config's teacher (supervised) and
    student (its distiller) at the config's grid and batch sizes."""
    from reactkd.distill import build_distiller
    from reactkd.models import Teacher, build_student
    from reactkd.train.runtime import Runtime
    from reactkd.train.supervised import SupervisedModel

    runtime = Runtime.create(config.device, precision, memory_format=FORMATS[memory_format])
    grid = int(config.data.preprocess.get("grid_size", 96))
    torch.manual_seed(0)
    teacher = Teacher(config.teacher)
    student = build_student(teacher, config.student)
    results = {}
    b1, b2 = config.stage1.batch_size, config.stage2.batch_size
    supervised = runtime.prepare_model(SupervisedModel(teacher).train())
    results["teacher"] = _time_steps(_runner(supervised, synthetic_batch(b1, grid, runtime.device), runtime),
                                     b1, steps, warmup, runtime.device)
    teacher.requires_grad_(False).eval()
    distiller = build_distiller(config.distiller.name, student, teacher, **config.distiller.kwargs)
    distiller = runtime.prepare_model(distiller).train()
    results[f"student_{config.distiller.name}"] = _time_steps(
        _runner(distiller, synthetic_batch(b2, grid, runtime.device, 1), runtime), b2, steps, warmup, runtime.device)
    del teacher, student, distiller, supervised
    if runtime.device.type == "cuda":
        torch.cuda.empty_cache()
    return results


# ---------------------------------------------------------------------------------------- end to end

def _stage_figures(metrics: Path, cases: int) -> dict:
    """Median epoch seconds (training + validation) and training cases per second of one stage."""
    with open(metrics, newline="") as fh:
        seconds = [float(r["seconds"]) for r in csv.DictReader(fh)]
    median = statistics.median(seconds)
    return {"epochs": len(seconds), "epoch_s": round(median, 3), "cases_per_s": round(cases / median, 3)}


def _fold_auc(path: Path) -> float | None:
    import warnings

    from reactkd.evaluate.metrics import ovr_auc
    from reactkd.evaluate.predictions import read_predictions

    table = read_predictions(path)
    with warnings.catch_warnings():  # a few test cases may lack a grade: the macro AUC says so itself
        warnings.simplefilter("ignore")
        auc = ovr_auc(table.grade, table.probs)
    return None if math.isnan(auc) else round(auc, 4)


def _peak_memory(device: torch.device) -> dict:
    out = {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)}
    if device.type == "cuda":
        out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return out


def end_to_end(config, out: Path, patients: int, acquisition: list[int], seed: int) -> dict:
    """The phantom cohort, ``reactkd train`` on fold 0 of the config, then ``reactkd evaluate``."""
    from reactkd.cli import main as reactkd
    from reactkd.cohort import patient_folds, read_manifest, write_folds
    from reactkd.config import dump_config
    from reactkd.config.run_dir import prepare_run_dir
    from reactkd.train.runtime import resolve_device

    device = resolve_device(config.device)
    figures: dict = {"patients": patients, "acquisition": acquisition}
    t0 = time.perf_counter()
    rc = reactkd(["cohort", "--out", str(out / "cohort"), "--patients", str(patients), "--seed", str(seed),
                  "--size", *map(str, acquisition)])
    figures["cohort_s"] = round(time.perf_counter() - t0, 2)
    if rc:
        return {**figures, "ok": False, "error": f"reactkd cohort exited {rc}"}
    config.data.manifest = str(out / "cohort" / "manifest.csv")
    records = read_manifest(config.data.manifest)
    fold0 = patient_folds(records, config.data.folds, config.seed)[0]
    run = out / "run"
    prepare_run_dir(config, run)  # what `reactkd train` does first; then fold 0 alone as the run's folds
    write_folds([fold0], run / "folds.json")
    config_path = dump_config(config, out / "config.yaml")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    rc = reactkd(["train", "--config", str(config_path), "--out", str(run), "--no-report"])
    figures["train_s"] = round(time.perf_counter() - t0, 2)
    figures.update(_peak_memory(device))
    if rc:
        return {**figures, "ok": False, "error": f"reactkd train exited {rc}"}
    n_train = len(records) - len(fold0)  # training + inner validation cases of the fold
    figures["test_cases"] = len(fold0)
    figures["teacher"] = _stage_figures(run / "fold0" / "teacher" / "metrics.csv", n_train)
    figures["student"] = _stage_figures(run / "fold0" / "student" / "metrics.csv", n_train)
    figures["teacher_auc"] = _fold_auc(run / "fold0" / "teacher_predictions.csv")
    figures["student_auc"] = _fold_auc(run / "fold0" / "predictions.csv")
    t0 = time.perf_counter()
    rc = reactkd(["evaluate", "--run", str(run)])
    figures["evaluate_s"] = round(time.perf_counter() - t0, 2)
    if rc:
        return {**figures, "ok": False, "error": f"reactkd evaluate exited {rc}"}
    return {**figures, "ok": True}


# ---------------------------------------------------------------------------------------------- main

def _missing_modules() -> list[str]:
    return [m for m in REQUIRED if importlib.util.find_spec(m) is None]


def _guarded(part, *args) -> dict:
    """A part's figures, or its error (one part failing must not hide the others' figures)."""
    try:
        return part(*args)
    except Exception as err:  # noqa: BLE001 - reported in the JSON, the exit code says it failed
        return {"ok": False, "error": f"{type(err).__name__}: {err}"[:2000],
                "traceback": traceback.format_exc()[-3000:]}


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and the run (new or empty)")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (CI); sets the defaults below")
    ap.add_argument("--device", choices=["cuda", "cpu"], help="default cuda (cpu with --smoke)")
    ap.add_argument("--precision", default="bf16", help="precision of the end-to-end run (default bf16, the paper's)")
    ap.add_argument("--precisions", nargs="+", help="step timings: default fp32 bf16 (+ fp16 on CUDA)")
    ap.add_argument("--formats", nargs="+", choices=sorted(FORMATS), default=sorted(FORMATS),
                    help="step timings: memory formats (default both)")
    ap.add_argument("--steps", type=int, help="timed steps per model, precision and format (default 5; smoke 1)")
    ap.add_argument("--epochs", type=int, help="epochs per stage of the end-to-end run (default 3; smoke 1)")
    ap.add_argument("--patients", type=int, help="phantom patients (default 16; smoke 8)")
    ap.add_argument("--acquisition", type=int, nargs=3, metavar=("X", "Y", "Z"),
                    help="phantom CT acquisition grid (default 96 96 64; smoke 48 48 32)")
    ap.add_argument("--seed", type=int, default=0, help="phantom seed (default 0)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="further config overrides, as `reactkd train --set`")
    ap.add_argument("--skip-steps", action="store_true", help="only the end-to-end run")
    ap.add_argument("--skip-end-to-end", action="store_true", help="only the step timings")
    args = ap.parse_args(argv)
    small = args.smoke
    args.device = args.device or ("cpu" if small else "cuda")
    args.steps = args.steps or (1 if small else 5)
    args.epochs = args.epochs or (1 if small else 3)
    args.patients = args.patients or (8 if small else 16)
    args.acquisition = args.acquisition or ([48, 48, 32] if small else [96, 96, 64])
    args.precisions = args.precisions or (["fp32", "bf16"] + (["fp16"] if args.device == "cuda" else []))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible to torch; --smoke (or --device cpu) checks the script itself.",
              file=sys.stderr)
        return 2
    missing = _missing_modules()
    if missing:
        print(f"gpu_check: missing Python packages {missing}; install them first (see --help).", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if any(args.out.iterdir()):
        print(f"gpu_check: --out {args.out} is not empty; give a new or empty folder.", file=sys.stderr)
        return 2
    started = time.perf_counter()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    config = paper_config(args.device, args.precision, args.epochs, args.smoke, args.overrides)
    report: dict = {"torch": torch.__version__, "cuda": torch.version.cuda,
                    "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
                    "smoke": args.smoke, "config": "paper", "overrides": (SMOKE if args.smoke else []) + args.overrides,
                    "grid": int(config.data.preprocess.get("grid_size", 96)),
                    "batch": {"teacher": config.stage1.batch_size, "student": config.stage2.batch_size}}
    if not args.skip_end_to_end:
        report["end_to_end"] = _guarded(end_to_end, config, args.out, args.patients, list(args.acquisition), args.seed)
        print(json.dumps({"end_to_end": report["end_to_end"]}), flush=True)
    if not args.skip_steps:
        report["steps"] = {}
        warmup = 1 if args.smoke else 2
        for precision in args.precisions:
            report["steps"][precision] = {}
            for fmt in args.formats:
                figures = _guarded(step_figures, config, precision, fmt, args.steps, warmup)
                report["steps"][precision][fmt] = figures
                print(json.dumps({"steps": {precision: {fmt: figures}}}), flush=True)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["ok"] = _all_ok(report)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


def _all_ok(report: dict) -> bool:
    if not report.get("end_to_end", {"ok": True}).get("ok", False):
        return False
    for by_format in report.get("steps", {}).values():
        for figures in by_format.values():
            if "error" in figures or not all(v.get("finite", False) for v in figures.values() if isinstance(v, dict)):
                return False
    return True


if __name__ == "__main__":
    sys.exit(main())
