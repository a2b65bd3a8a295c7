"""Optimiser and learning-rate schedule from a stage config."""

from __future__ import annotations

import math

import torch

from reactkd.config.schema import Optimizer, Schedule, StageConfig

__all__ = ["build_optimizer", "build_scheduler"]


def build_optimizer(params: list[torch.nn.Parameter], stage: StageConfig,
                    head: list[torch.nn.Parameter] = ()) -> torch.optim.Optimizer:
    """The stage's optimiser over ``params``; those also in ``head`` get ``optimizer.head_lr`` when it is set."""
    o = stage.optimizer
    if not params:
        raise ValueError("no trainable parameters: is everything frozen?")
    if o.head_lr is not None:
        ids = {id(p) for p in head}
        groups = [{"params": [p for p in params if id(p) not in ids]},
                  {"params": [p for p in params if id(p) in ids], "lr": o.head_lr}]
        params = [g for g in groups if g["params"]]
    if o.name is Optimizer.SGD:
        return torch.optim.SGD(params, lr=o.lr, momentum=0.9, weight_decay=o.weight_decay, nesterov=True)
    cls = torch.optim.AdamW if o.name is Optimizer.ADAMW else torch.optim.Adam
    return cls(params, lr=o.lr, weight_decay=o.weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, stage: StageConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-epoch schedule: linear warm-up over ``warmup_epochs``, then cosine decay to 1 % (or constant)."""
    warm, total = stage.optimizer.warmup_epochs, stage.epochs

    def factor(epoch: int) -> float:
        if epoch < warm:
            return (epoch + 1) / (warm + 1)
        if stage.schedule is Schedule.CONSTANT:
            return 1.0
        progress = (epoch - warm) / max(total - warm, 1)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
