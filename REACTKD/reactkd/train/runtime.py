"""Where and how training runs: device, precision and memory format (a :class:`PerformancePolicy`),
threads, seeding, and torchrun (DDP) processes."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from reactkd.config.schema import ConfigError, Device, Precision
from reactkd.train.performance import PerformancePolicy, configure_threads, resolve_policy, thread_count

__all__ = ["Runtime", "seed_everything", "resolve_device"]


def resolve_device(device: Device | str) -> torch.device:
    """``auto`` → CUDA when available (this process's ``LOCAL_RANK`` under torchrun), else CPU.

    Raises:
        ConfigError: ``cuda`` asked for on a machine without CUDA.
    """
    device = Device(device)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device is Device.CUDA and not torch.cuda.is_available():
        raise ConfigError("`device: cuda` was asked for, but torch sees no CUDA device (CPU build or no GPU).")
    if device is Device.CPU or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class Runtime:
    """Device + precision + memory format + distributed rank for one process.

    ``precision`` is always concrete (``auto`` is resolved by :func:`~reactkd.train.performance.resolve_precision`);
    ``memory_format`` is what 5-D weights and batch tensors are kept in (channels-last-3d for fp32 on a CPU).
    Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group is created with NCCL on CUDA and gloo on CPU.
    """

    device: torch.device
    precision: Precision
    rank: int = 0
    world_size: int = 1
    memory_format: torch.memory_format = torch.contiguous_format

    @classmethod
    def create(cls, device: Device | str = Device.AUTO, precision: Precision | str = Precision.FP32,
               memory_format: torch.memory_format | None = None, threads: int | None = None) -> "Runtime":
        """Resolve the device and its :class:`PerformancePolicy`; join the torchrun process group if there is one.

        ``threads`` sets torch's CPU threads; without it torch's own choice stands (``OMP_NUM_THREADS``, else
        the cores), except that CPU torchrun ranks split the cores between them instead of each taking all.
        """
        dev = resolve_device(device)
        policy = resolve_policy(dev, precision, memory_format)
        if policy.precision is Precision.FP16 and dev.type != "cuda":
            raise ConfigError("`precision: fp16` needs CUDA (use bf16, auto or fp32 on the CPU).")
        world = int(os.environ.get("WORLD_SIZE", 1))
        rank = int(os.environ.get("RANK", 0))
        if dev.type == "cpu" and (threads is not None or world > 1):
            configure_threads(threads if threads is not None else _per_rank_threads(world))
        if world > 1 and not dist.is_initialized():
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return cls(dev, policy.precision, rank, world, policy.memory_format)

    @property
    def policy(self) -> PerformancePolicy:
        return PerformancePolicy(self.device, self.precision, self.memory_format)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        """Autocast to the run's precision (a no-op context for fp32)."""
        return self.policy.autocast()

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on the device with its convolution weights in the memory format (in place; returned)."""
        return self.policy.prepare_model(model)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A scaler that is active only for fp16 (bf16 has fp32's exponent range and needs none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.precision is Precision.FP16)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def to_device(self, batch: dict) -> dict:
        """The batch's tensors on the device; floating 5-D ones (volumes, ROI masks) in the memory format."""
        return self.policy.to_device(batch)


def _per_rank_threads(world: int) -> int | None:
    """CPU torchrun ranks without ``OMP_NUM_THREADS``: the usable cores split between the local ranks."""
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    return max(1, thread_count() // max(local, 1))
