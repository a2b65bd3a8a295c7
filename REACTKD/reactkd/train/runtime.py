"""Where and how training runs: device, mixed precision, seeding, and torchrun (DDP) processes."""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from reactkd.config.schema import ConfigError, Device, Precision

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
    """Device + precision + distributed rank for one process.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group is created with NCCL on CUDA and gloo on CPU.
    """

    device: torch.device
    precision: Precision
    rank: int = 0
    world_size: int = 1

    @classmethod
    def create(cls, device: Device | str = Device.AUTO, precision: Precision | str = Precision.FP32) -> "Runtime":
        dev = resolve_device(device)
        prec = Precision(precision)
        if prec is Precision.FP16 and dev.type != "cuda":
            raise ConfigError("`precision: fp16` needs CUDA (use bf16 or fp32 on the CPU).")
        world = int(os.environ.get("WORLD_SIZE", 1))
        rank = int(os.environ.get("RANK", 0))
        if world > 1 and not dist.is_initialized():
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return cls(dev, prec, rank, world)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self):
        if self.precision is Precision.FP32:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision is Precision.BF16 else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A scaler that is active only for fp16 (bf16 has fp32's exponent range and needs none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.precision is Precision.FP16)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_gather_objects(self, obj):
        """Gather a picklable object from every rank (used for validation predictions)."""
        if not self.distributed:
            return [obj]
        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
