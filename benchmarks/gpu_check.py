#!/usr/bin/env python3
"""The one prepared check for a session lent a GPU: CUDA and mixed-precision training, with timings.

Runs, in this order, and writes one JSON object to ``--out/gpu_check.json`` (also printed):

1. ``steps``: the paper-size teacher (Swin feature 48, fused width 128, 96³, batch 2) for a supervised
   step, and the paper-size student for a REACT-KD distillation step (batch 8, Region Graph Distillation
   with Gromov–Wasserstein on), in fp32, bf16 and fp16 (with the gradient scaler): median step time over
   ``--steps`` steps after 2 warm-up steps, peak GPU memory, and whether every loss and gradient was finite.
2. ``train``: ``reactkd train --config demo-cpu`` on the device with ``--precision`` for a couple of epochs
   (the whole pipeline on CUDA: data, caches, both stages, checkpoints, predictions); wall time and the
   student's held-out AUC.

On a CPU (``--device cpu``) the same script runs at the tiny sizes in a minute: that is how it is
tested before a GPU is lent. NCCL DDP needs two GPUs and is not part of it.

The device machine's Python has torch, numpy, scipy, scikit-image, scikit-learn, PyYAML, tqdm, matplotlib
and einops, but not MONAI, POT or SimpleITK; nothing can be downloaded there, and one call carries at most
64 MiB. So the wheels travel in two calls to the same warm machine (SimpleITK alone is 53 MB)::

    # here, in the repository root
    echo /.whl/ >> .git/info/exclude
    W="python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp
       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
    $W -d .whl/a SimpleITK==2.5.3
    $W -d .whl/b monai==1.6.1 POT==0.9.7.post1
    # device call 1, carry [".whl/a"]:
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/a/*.whl
    # device call 2 (at once, while warm), carry [".whl/b"]:
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/b/*.whl &&
    PYTHONPATH=/tmp/site:REACTKD PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py --out $OUT --device cuda

Measured on this project's CPU machine with ``--device cpu --steps 2 --train-epochs 1``: every step finite
in fp32 and bf16, and the end-to-end run completes (figures there mean nothing for a GPU).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

PAPER = {"teacher": {"feature_size": 48, "fusion_channels": 128}, "student": {"init_filters": 8, "pet_channels": 2},
         "grid": 96, "batch_teacher": 2, "batch_student": 8}
TINY = {"teacher": {"feature_size": 12, "fusion_channels": 16, "window_size": 4, "depths": [1, 1, 1, 1]},
        "student": {"init_filters": 8, "pet_channels": 2, "blocks_down": [1, 1, 1, 1]},
        "grid": 32, "batch_teacher": 2, "batch_student": 2}


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
    return {k: v.to(device) for k, v in batch.items()}


def _time_steps(step, steps: int, device: torch.device) -> dict:
    finite = True
    for _ in range(2):
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
    out = {"step_s": statistics.median(times), "finite": bool(finite)}
    if device.type == "cuda":
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return out


def step_figures(sizes: dict, precision: str, device: torch.device, steps: int) -> dict:
    """Median step time, peak memory and finiteness of one teacher step and one REACT-KD student step."""
    from reactkd.distill import build_distiller
    from reactkd.models import build_student, build_teacher
    from reactkd.train.runtime import Runtime
    from reactkd.train.supervised import SupervisedModel

    runtime = Runtime.create(device.type, precision)
    torch.manual_seed(0)
    teacher = build_teacher(**sizes["teacher"]).to(device)
    student = build_student(teacher, **sizes["student"]).to(device)
    results = {}

    def runner(module, batch):
        params = [p for p in module.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)
        scaler = runtime.grad_scaler()

        def step() -> bool:
            opt.zero_grad(set_to_none=True)
            with runtime.autocast():
                _, losses = module(batch)
                loss = sum(losses.values())
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            ok = bool(torch.isfinite(loss)) and all(torch.isfinite(p.grad).all() for p in params if p.grad is not None)
            scaler.step(opt)
            scaler.update()
            return ok
        return step

    results["teacher"] = _time_steps(runner(SupervisedModel(teacher).train(),
                                            synthetic_batch(sizes["batch_teacher"], sizes["grid"], device)), steps, device)
    teacher.requires_grad_(False).eval()
    distiller = build_distiller("reactkd", student, teacher).to(device).train()
    results["student_reactkd"] = _time_steps(runner(distiller, synthetic_batch(sizes["batch_student"], sizes["grid"], device, 1)),
                                             steps, device)
    del teacher, student, distiller
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return results


def train_figures(device: str, precision: str, epochs: int) -> dict:
    """``reactkd train --config demo-cpu`` on ``device``: the whole pipeline, its wall time and student AUC."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "reactkd", "train", "--config", "demo-cpu", "--out", str(run), "--no-report",
               "--set", f"device={device}", "--set", f"precision={precision}",
               "--set", f"stage1.epochs={epochs}", "--set", f"stage2.epochs={epochs}"]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            return {"ok": False, "wall_s": wall, "tail": done.stderr[-2000:] or done.stdout[-2000:]}
        from reactkd.evaluate.metrics import evaluate_folds
        from reactkd.evaluate.predictions import read_run_predictions

        summary = evaluate_folds(read_run_predictions(run))[1]
        return {"ok": True, "wall_s": wall, "student_auc": float(summary["auc"].mean)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--steps", type=int, default=5, help="timed steps per model and precision (default 5)")
    ap.add_argument("--precisions", nargs="+", help="default fp32 bf16 fp16 (fp16 needs CUDA: not on --device cpu)")
    ap.add_argument("--train-precision", default="bf16", help="precision of the end-to-end run (default bf16)")
    ap.add_argument("--train-epochs", type=int, default=2, help="epochs per stage of the end-to-end run (default 2)")
    ap.add_argument("--skip-train", action="store_true", help="only the step timings")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device is visible to torch; use --device cpu to check the script itself.",
              file=sys.stderr)
        return 2
    device = torch.device(args.device)
    precisions = args.precisions or (["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "bf16"])
    sizes = PAPER if device.type == "cuda" else TINY
    report = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
              "sizes": sizes, "steps": {}}
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    for precision in precisions:
        try:
            report["steps"][precision] = step_figures(sizes, precision, device, args.steps)
        except Exception as err:  # one precision failing must not hide the others' figures
            report["steps"][precision] = {"error": f"{type(err).__name__}: {err}"[:2000]}
        print(json.dumps({precision: report["steps"][precision]}), flush=True)
    if not args.skip_train:
        report["train"] = train_figures(args.device, args.train_precision, args.train_epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    bad = [p for p, r in report["steps"].items() if "error" in r or not all(v.get("finite", False) for v in r.values())]
    return 1 if bad or not report.get("train", {"ok": True})["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
