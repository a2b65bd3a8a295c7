"""How a process spends its hardware: memory format, autocast precision and thread counts, per device.

:func:`resolve_policy` turns a device and a configured :class:`~reactkd.config.schema.Precision` into a
:class:`PerformancePolicy`; :class:`~reactkd.train.runtime.Runtime` carries it, and training, validation
and prediction all go through it, so one decision holds for the whole run.

- **Memory format.** On a CPU in fp32, 5-D activations in ``torch.channels_last_3d`` (NDHWC) let oneDNN
  run 3-D convolutions and their backward without reordering, much faster than NCDHW (figures in
  ``docs/results.md``, "Training and inference near the machine's limit"); under bf16 autocast NCDHW
  measured faster (see :func:`resolve_memory_format`). On CUDA the contiguous format stays (not measured).
- **Precision.** ``precision: auto`` is bf16 autocast where the hardware has native bf16 arithmetic —
  a CPU with AVX-512 BF16 or AMX-BF16 (``/proc/cpuinfo`` flags ``avx512_bf16``/``amx_bf16``, else oneDNN's
  own check), a CUDA device that reports ``torch.cuda.is_bf16_supported()`` — and fp32 elsewhere: without
  native support bf16 is emulated and slower than fp32. bf16 keeps fp32's exponent range, so it needs no
  gradient scaler (Kalamkar et al., "A Study of BFLOAT16 for Deep Learning Training", 2019).
- **Threads.** An explicit count wins, then ``OMP_NUM_THREADS``, else the cores this process may run on
  (``os.sched_getaffinity``), so several jobs started with ``OMP_NUM_THREADS=k`` share cores without
  oversubscription; DataLoader workers run single-threaded (:func:`worker_init`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from reactkd.config.schema import Precision

__all__ = ["PerformancePolicy", "resolve_policy", "resolve_precision", "resolve_memory_format", "cpu_bf16_support",
           "thread_count", "configure_threads", "worker_init", "to_memory_format"]

_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
"""``/proc/cpuinfo`` flags of native bf16 arithmetic on x86: AMX tiles (Sapphire Rapids and later) and
AVX-512 BF16 (Cooper Lake, Zen 4 and later)."""


def cpu_bf16_support(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The CPU's native bf16 feature (``"amx_bf16"`` or ``"avx512_bf16"``), or None without one.

    Reads the flags of ``cpuinfo``; where that file does not exist (not Linux) asks oneDNN
    (``torch.ops.mkldnn._is_mkldnn_bf16_supported``) and answers ``"onednn_bf16"`` if it says yes.
    """
    path = Path(cpuinfo)
    if path.is_file():
        flags = set()
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                flags.update(line.partition(":")[2].split())
        return next((f for f in _BF16_FLAGS if f in flags), None)
    try:
        return "onednn_bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return None


def resolve_precision(precision: Precision | str, device: torch.device) -> Precision:
    """A concrete precision: ``auto`` → bf16 where the device computes it natively (see module doc), else fp32."""
    precision = Precision(precision)
    if precision is not Precision.AUTO:
        return precision
    if device.type == "cuda":
        return Precision.BF16 if torch.cuda.is_bf16_supported() else Precision.FP32
    return Precision.BF16 if device.type == "cpu" and cpu_bf16_support() else Precision.FP32


def resolve_memory_format(device: torch.device, precision: Precision | str = Precision.FP32) -> torch.memory_format:
    """``channels_last_3d`` for fp32 on a CPU, else contiguous.

    On a CPU channels-last-3d made fp32 training steps 1.5–3× faster (oneDNN's NDHWC convolution backward);
    under bf16 autocast it made them slower (torch 2.13's channels-last GroupNorm backward in bf16 is slow),
    so bf16 keeps NCDHW. CUDA keeps the contiguous format (not measured here). Figures: ``docs/results.md``.
    """
    if device.type == "cpu" and Precision(precision) is Precision.FP32:
        return torch.channels_last_3d
    return torch.contiguous_format


def to_memory_format(value, memory_format: torch.memory_format):
    """A floating 5-D tensor in ``memory_format`` (same values, other strides); anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.ndim == 5 and value.is_floating_point():
        return value.contiguous(memory_format=memory_format)
    return value


@dataclass(frozen=True)
class PerformancePolicy:
    """Memory format of 5-D tensors and the autocast dtype (None: plain fp32) for one device."""

    device: torch.device
    precision: Precision
    memory_format: torch.memory_format = torch.contiguous_format

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {Precision.BF16: torch.bfloat16, Precision.FP16: torch.float16}.get(self.precision)

    def autocast(self):
        """Autocast to :attr:`autocast_dtype` on the policy's device, or a no-op context for fp32."""
        dtype = self.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device and its 5-D weights (convolutions) to the memory format, in place."""
        return model.to(self.device, memory_format=self.memory_format)

    def to_device(self, batch: dict) -> dict:
        """A batch's tensors on the device, floating 5-D ones (volumes, ROI masks) in the memory format."""
        return {k: to_memory_format(v.to(self.device, non_blocking=True), self.memory_format)
                if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def resolve_policy(device: torch.device, precision: Precision | str = Precision.AUTO,
                   memory_format: torch.memory_format | None = None) -> PerformancePolicy:
    """The policy for ``device``: precision via :func:`resolve_precision`, memory format via
    :func:`resolve_memory_format` unless given."""
    precision = resolve_precision(precision, device)
    fmt = resolve_memory_format(device, precision) if memory_format is None else memory_format
    return PerformancePolicy(device, precision, fmt)


def thread_count(explicit: int | None = None) -> int:
    """Threads for this process: ``explicit``, else ``OMP_NUM_THREADS``, else the cores it may run on.

    Raises:
        ValueError: ``explicit`` or ``OMP_NUM_THREADS`` is not a positive integer.
    """
    if explicit is not None:
        if isinstance(explicit, bool) or not isinstance(explicit, int) or explicit < 1:
            raise ValueError(f"the thread count must be a positive integer, got {explicit!r}.")
        return explicit
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"OMP_NUM_THREADS must be a positive integer, got {env!r}.")
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no sched_getaffinity (macOS, Windows)
        return max(1, os.cpu_count() or 1)


def configure_threads(explicit: int | None = None) -> int:
    """Set torch's intra-op threads to :func:`thread_count`; returns the count."""
    n = thread_count(explicit)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one thread per worker, so workers never compete with the training
    process's intra-op threads for the same cores."""
    torch.set_num_threads(1)
