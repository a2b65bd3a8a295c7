"""Training step and inference of teacher and student in each memory format × precision, against the
machine's measured matmul peak.

Figures (see ``benchmarks/run``):
- ``matmul_peak_fp32_gflops``, ``matmul_peak_bf16_gflops``: best of 2048² matrix products (fp32, and bf16
  where the CPU has native bf16; 0 without), the ceiling every achieved rate below is compared with.
- ``{net}_step_{n}_{mode}_s``: one training step (forward, focal loss, backward, AdamW update) of the
  ``SupervisedModel``-wrapped ``net`` (``teacher``/``student``) on an ``n``³ batch (4 cases at 32³, 2 at 64³,
  1 at 96³: the batches that fit a CPU); ``{net}_infer_{n}_{mode}_s``: one case, ``torch.inference_mode``.
  ``mode``: ``fp32`` (today's NCDHW fp32), ``fp32cl`` (channels-last-3d), ``bf16`` (autocast), ``bf16cl``.
- ``..._best_s``: the mode :func:`reactkd.train.performance.resolve_policy` picks here with ``precision:
  auto``; ``..._best_speedup``: fp32 time / best time, measured in the same run.
- ``..._gflops``: FLOPs of the step or forward (``torch.utils.flop_counter.FlopCounterMode``, fp32 run)
  divided by the time of the best mode; ``..._peak_frac``: that rate over the matmul peak of the best
  mode's dtype.
- ``{net}_{n}_noise``: the median over modes of (max − min) / median of the rounds, i.e. how much the
  machine's other load moved the figures.

Sizes: the demo-cpu config's teacher and student at 32³ and 64³, the paper config's at 96³ (32³ and 96³
on request: minutes). Modes are timed interleaved in rounds (fp32, fp32cl, bf16, bf16cl, fp32, …) after one warm-up
step each, and the median of the rounds is reported, so that other processes' load hits every mode alike.

Targets: student step at 64³ ≥ 1.6× and teacher step ≥ 1.4× faster than fp32; the student's
forward ≥ 50 % of the matmul peak.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from reactkd.config import load_config
from reactkd.config.schema import Precision
from reactkd.config.shipped import resolve_config_path
from reactkd.models import build_student, build_teacher
from reactkd.train.performance import cpu_bf16_support, resolve_policy, to_memory_format
from reactkd.train.supervised import SupervisedModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import _batch  # noqa: E402  (the benchmarks' shared synthetic batch)

MODES = {"fp32": (False, None), "fp32cl": (True, None), "bf16": (False, torch.bfloat16),
         "bf16cl": (True, torch.bfloat16)}
BATCH = {32: 4, 64: 2, 96: 1}
ROUNDS = {32: 3, 64: 3, 96: 2}
ON_REQUEST: set[str] = set()


def matmul_peak() -> dict[str, float]:
    """Best GFLOP/s of ``n × n`` matrix products in fp32 and (with native support) bf16."""
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        if dtype is torch.bfloat16 and not cpu_bf16_support():
            out["matmul_peak_bf16_gflops"] = 0.0
            continue
        n = 2048
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        a @ b
        best = float("inf")
        for _ in range(8):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
        out[f"matmul_peak_{name}_gflops"] = 2 * n**3 / best / 1e9
    return out


def _build(net: str, size: int) -> torch.nn.Module:
    """The teacher or student of ``paper`` (96³ and up) or ``demo-cpu``, from the config's typed specs."""
    config = load_config(resolve_config_path("paper" if size >= 96 else "demo-cpu"))
    torch.manual_seed(0)
    teacher = build_teacher(config.teacher)
    return teacher if net == "teacher" else build_student(teacher, config.student)


def _batch_for(size: int) -> dict:
    n = BATCH[size]
    batch = _batch(size)
    return {k: v[:n] if n < 2 else (torch.cat([v, v]) if n == 4 else v) for k, v in batch.items()}


def _runner(net: str, size: int, kind: str, channels_last: bool, dtype) -> Callable[[], None]:
    model = SupervisedModel(_build(net, size))
    batch = _batch_for(size) if kind == "step" else {k: v[:1] for k, v in _batch(size).items()}
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    batch = {k: to_memory_format(v, fmt) for k, v in batch.items()}
    cast = (lambda: torch.autocast("cpu", dtype)) if dtype is not None else contextlib.nullcontext
    if kind == "infer":
        model.eval()

        def infer() -> None:
            with torch.inference_mode(), cast():
                model(batch)

        return infer
    model.train()
    opt = torch.optim.AdamW(model.get_learnable_parameters(), lr=1e-4)

    def step() -> None:
        with cast():
            _, losses = model(batch)
            loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _flops(net: str, size: int, kind: str) -> float:
    run = _runner(net, size, kind, False, None)
    with FlopCounterMode(display=False) as counter:
        run()
    return float(counter.get_total_flops())


def best_mode() -> str:
    policy = resolve_policy(torch.device("cpu"), Precision.AUTO)
    cl = policy.memory_format is torch.channels_last_3d
    return {(False, None): "fp32", (True, None): "fp32cl", (False, torch.bfloat16): "bf16",
            (True, torch.bfloat16): "bf16cl"}[(cl, policy.autocast_dtype)]


def modes_table(net: str, size: int, peaks: dict | None = None) -> dict[str, float]:
    """Step and inference of ``net`` at ``size``³ in every mode, interleaved; see the module docstring."""
    peaks = peaks or matmul_peak()
    runs = {}
    for kind in ("step", "infer"):
        for mode, (cl, dtype) in MODES.items():
            fn = _runner(net, size, kind, cl, dtype)
            fn()  # warm-up: oneDNN primitive creation, first-touch allocations
            runs[(kind, mode)] = fn
    times: dict = {key: [] for key in runs}
    for _ in range(ROUNDS[size]):
        for key, fn in runs.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    out, spreads, best = {}, [], best_mode()
    for (kind, mode), ts in times.items():
        med = statistics.median(ts)
        out[f"{net}_{kind}_{size}_{mode}_s"] = med
        spreads.append((max(ts) - min(ts)) / med)
    for kind in ("step", "infer"):
        flops = _flops(net, size, kind)
        best_s = out[f"{net}_{kind}_{size}_{best}_s"]
        peak = peaks["matmul_peak_bf16_gflops" if "bf16" in best else "matmul_peak_fp32_gflops"]
        out[f"{net}_{kind}_{size}_best_s"] = best_s
        out[f"{net}_{kind}_{size}_best_speedup"] = out[f"{net}_{kind}_{size}_fp32_s"] / best_s
        out[f"{net}_{kind}_{size}_gflops"] = flops / best_s / 1e9
        out[f"{net}_{kind}_{size}_peak_frac"] = flops / best_s / 1e9 / peak if peak else 0.0
    out[f"{net}_{size}_noise"] = statistics.median(spreads)
    return out


def _keys(net: str, size: int) -> str:
    keys = [f"{net}_{kind}_{size}_{mode}_s" for kind in ("step", "infer") for mode in MODES]
    for kind in ("step", "infer"):
        keys += [f"{net}_{kind}_{size}_{x}" for x in ("best_s", "best_speedup", "gflops", "peak_frac")]
    return ",".join(keys + [f"{net}_{size}_noise"])


def figures() -> dict[str, Callable[[], dict[str, float]]]:
    table: dict[str, Callable[[], dict[str, float]]] = {"matmul_peak_fp32_gflops,matmul_peak_bf16_gflops": matmul_peak}
    for size in (32, 64, 96):
        for net in ("student", "teacher"):
            key = _keys(net, size)
            table[key] = lambda net=net, size=size: modes_table(net, size)
            if size != 64:  # 64³ holds the named figures; the others take minutes more
                ON_REQUEST.add(key)
    return table
