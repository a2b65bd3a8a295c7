"""Model size and CPU speed: paper-size teacher vs default student, and the cost of region-graph distillation.

Figures (see ``benchmarks/run``):
- ``teacher_params``, ``student_params``: parameter counts of ``Teacher(feature_size=48)`` (both branches)
  and the default ``Student()`` (SegResNet ``init_filters=8``, CT only) sharing its CBAM3D (counted once,
  in the student's total as well, since the student owns a copy at deployment).
- ``teacher_infer_96_s``, ``student_infer_96_s``: one 96³ case, ``torch.inference_mode``, same run;
  best of repeats after one warm-up (the minimum is the least noisy estimate on a shared machine).
- ``student16_params``, ``student16_infer_96_s``: the ``init_filters=16`` student, for the 8-vs-16 choice.
- ``step_kd_s``, ``step_reactkd_s``: one student training step (forward, backward, Adam update) with
  the ``kd`` and the ``reactkd`` distillers on the same batch of 2 cases, same run. To keep the benchmark
  short the teacher is ``feature_size=24`` and the grid 64³; a cheaper teacher and grid make the
  region-graph share of a step larger, so the ratio is a conservative bound for the paper setting.
  The two steps are timed interleaved (best of 3 each) so that both see the same background load.
- ``rgd_only_s``: the region-graph terms alone (ROI pooling of both maps, node projector, node, edge and
  GW losses, backward) on fixed feature maps of that batch: the part of ``step_reactkd_s`` that
  ``step_kd_s`` lacks, measured without the noise of whole steps.

Goals: student ≥ 10× fewer parameters and ≥ 5× faster than the teacher, ≤ 1 s per case on
the 2-core machine; region-graph distillation adds ≤ 10 % to a step.
"""

from __future__ import annotations

import gc
import time
from typing import Callable

import torch

from reactkd.distill import build_distiller
from reactkd.models import build_student, build_teacher


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first-touch allocations and lazy initialisation
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def sizes() -> dict[str, float]:
    teacher = build_teacher(feature_size=48)
    return {"teacher_params": _params(teacher), "student_params": _params(build_student(teacher))}


def inference() -> dict[str, float]:
    torch.manual_seed(0)
    teacher = build_teacher(feature_size=48).eval()
    student = build_student(teacher).eval()
    x = torch.randn(1, teacher.in_channels, 96, 96, 96)
    with torch.inference_mode():
        t_s = _best_time(lambda: teacher(x), repeats=2)
        s_s = _best_time(lambda: student(x[:, :1]), repeats=5)
    return {"teacher_infer_96_s": t_s, "student_infer_96_s": s_s}


def student16() -> dict[str, float]:
    student = build_student(None, init_filters=16).eval()
    x = torch.randn(1, 1, 96, 96, 96)
    with torch.inference_mode():
        s_s = _best_time(lambda: student(x), repeats=5)
    return {"student16_params": _params(student), "student16_infer_96_s": s_s}


def _batch(size: int) -> dict:
    g = torch.Generator().manual_seed(0)
    shape = (2, 1, size, size, size)
    masks = torch.zeros(2, 4, size, size, size)
    q = size // 8
    masks[:, 0, q : 7 * q, q : 7 * q, q : 7 * q] = 1  # liver
    masks[0, 1, 2 * q : 3 * q, 2 * q : 3 * q, 2 * q : 3 * q] = 1
    masks[0, 2, 4 * q : 5 * q, 3 * q : 4 * q, 4 * q : 5 * q] = 1
    masks[0, 3, 5 * q : 6 * q, 5 * q : 6 * q, 2 * q : 3 * q] = 1
    masks[1, 1, 3 * q : 5 * q, 3 * q : 5 * q, 3 * q : 5 * q] = 1
    return {
        "ct": torch.randn(shape, generator=g),
        "pet": torch.randn(2, 2, size, size, size, generator=g),
        "pet_present": torch.ones(2, 2, dtype=torch.bool),
        "ct_lowdose": torch.randn(shape, generator=g),
        "roi_masks": masks,
        "roi_valid": torch.tensor([[True, True, True, True], [True, True, False, False]]),
        "label": torch.tensor([0, 2]),
    }


def steps() -> dict[str, float]:
    torch.manual_seed(0)
    teacher = build_teacher(feature_size=24)
    batch = _batch(64)
    runs = {}
    for key, name in (("step_kd_s", "kd"), ("step_reactkd_s", "reactkd")):
        distiller = build_distiller(name, build_student(teacher), teacher).train()
        opt = torch.optim.Adam(distiller.get_learnable_parameters(), lr=1e-4)

        def step(distiller=distiller, opt=opt) -> None:
            _, losses = distiller(batch)
            opt.zero_grad()
            sum(losses.values()).backward()
            opt.step()

        step()  # warm-up
        runs[key] = step
    # interleaved, so that both methods see the same load from other processes
    best = {key: float("inf") for key in runs}
    for _ in range(3):
        for key, step in runs.items():
            gc.collect()
            t0 = time.perf_counter()
            step()
            best[key] = min(best[key], time.perf_counter() - t0)
    best["rgd_only_s"] = _rgd_only(teacher, batch)
    return best


def _rgd_only(teacher: torch.nn.Module, batch: dict) -> float:
    """Region-graph terms alone (pooling, projector, node/edge/GW losses, their backward) on fixed maps."""
    from reactkd.graph import region_nodes
    from reactkd.losses import edge_alignment_loss, gw_graph_loss, node_alignment_loss

    distiller = build_distiller("reactkd", build_student(teacher), teacher)
    with torch.no_grad():
        fs, ft = distiller.student_features(batch), distiller.teacher_features(batch)
    s_map = fs.levels[distiller.student_level].detach().requires_grad_()
    t_map, valid = ft.levels[distiller.teacher_level], batch["roi_valid"]

    def rgd() -> None:
        ns, nt = region_nodes(s_map, batch["roi_masks"]), region_nodes(t_map, batch["roi_masks"])
        loss = node_alignment_loss(distiller.node_projector(ns), nt, valid) + edge_alignment_loss(ns, nt, valid)
        (loss + gw_graph_loss(ns, nt, valid, valid)).backward()

    return _best_time(rgd, repeats=20)


def figures() -> dict[str, Callable[[], dict[str, float]]]:
    return {
        "teacher_params,student_params": sizes,
        "teacher_infer_96_s,student_infer_96_s": inference,
        "student16_params,student16_infer_96_s": student16,
        "step_kd_s,step_reactkd_s,rgd_only_s": steps,
    }
