"""Segmentation teacher vs ReCo-KD student: size and CPU speed at the ``seg-paper`` sizes.

Figures (see ``benchmarks/run``):
- ``seg_teacher_params``, ``seg_student_params``: parameter counts of the ``seg-paper`` teacher (MONAI
  SegResNet, init_filters 32, blocks 1-2-2-4) and its student (same family, widths 2⁻²: 8 filters).
- ``seg_teacher_infer_96_s``, ``seg_student_infer_96_s``: one 96³ volume (the training patch, so one
  window), ``torch.inference_mode``, best of 2 after a warm-up, same run.
"""

from __future__ import annotations

import gc
import time
from typing import Callable

import torch

from reactkd.config.shipped import resolve_config_path
from reactkd.segment.config import load_seg_config
from reactkd.segment.experiment import build_seg_models
from reactkd.segment.models import count_parameters


def _models():
    torch.manual_seed(0)
    teacher, student = build_seg_models(load_seg_config(resolve_config_path("seg-paper")))
    return teacher.eval(), student.eval()


def _best_time(fn: Callable[[], object], repeats: int = 2) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def sizes() -> dict[str, float]:
    teacher, student = _models()
    return {"seg_teacher_params": count_parameters(teacher), "seg_student_params": count_parameters(student)}


def inference() -> dict[str, float]:
    teacher, student = _models()
    x = torch.randn(1, 1, 96, 96, 96)
    with torch.inference_mode():
        return {"seg_teacher_infer_96_s": _best_time(lambda: teacher(x)),
                "seg_student_infer_96_s": _best_time(lambda: student(x))}


def figures() -> dict[str, Callable[[], dict[str, float]]]:
    return {"seg_teacher_params,seg_student_params": sizes,
            "seg_teacher_infer_96_s,seg_student_infer_96_s": inference}
