"""One training stage: epochs over a loader, validation-selected best checkpoint, resumable.

Files in ``out_dir``: ``last.pt`` (full training state after the last completed epoch), ``best.pt``
(weights + metadata of the epoch with the best validation metric), ``metrics.csv`` (one row per epoch),
``done.json`` (written last; a finished stage is skipped on re-run). A run killed mid-epoch resumes from
``last.pt``; rows of ``metrics.csv`` past that epoch are dropped, so nothing is counted twice.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from reactkd.config.schema import StageConfig
from reactkd.train.checkpoint import load_checkpoint, save_checkpoint
from reactkd.train.data import load_loader_state, loader_state
from reactkd.train.optim import build_optimizer, build_scheduler
from reactkd.train.rng import rng_state, set_rng_state
from reactkd.train.runtime import Runtime
from reactkd.utils.atomic import atomic_path, atomic_write_text

__all__ = ["fit", "StageResult", "selected"]


@dataclass
class StageResult:
    best_path: Path
    best_epoch: int
    best_metric: float
    epochs_run: int


def _score(m: dict, metric: str, epoch: int) -> tuple[float, float]:
    """Larger is better: the metric (``loss``: its negative; ``last``: the epoch), then −validation loss."""
    if metric == "last":
        return (float(epoch), 0.0)
    if metric == "loss":
        loss = m.get("loss", float("nan"))
        return (-loss if math.isfinite(loss) else -math.inf, 0.0)
    value = m.get(metric, float("nan"))
    return (value if math.isfinite(value) else -1.0, -m.get("loss", 0.0))


def selected(result: StageResult, stage: StageConfig) -> str:
    """``best epoch 5, val auc 0.747`` or ``last epoch 12 kept``: the log line of a finished stage."""
    metric = stage.select_metric.value
    if metric == "last":
        return f"last epoch {result.best_epoch + 1} kept"
    return f"best epoch {result.best_epoch + 1}, val {metric} {result.best_metric:.3f}"


def _shown(metric: str, score: tuple[float, float]) -> float:
    """The kept epoch's value of the selection metric (``loss``: the loss; ``last``: NaN, nothing ranked)."""
    return -score[0] if metric == "loss" else math.nan if metric == "last" else score[0]


def _trainable_state(module: nn.Module, prefixes_to_skip: tuple[str, ...]) -> dict:
    return {k: v for k, v in module.state_dict().items() if not k.startswith(prefixes_to_skip)}


@dataclass
class _Optimisation:
    """What one optimisation step touches: parameters, optimiser, schedule, gradient scaler."""

    params: list
    optimizer: torch.optim.Optimizer
    scheduler: object
    scaler: object


@dataclass
class _Progress:
    """Where the stage stands: the next epoch to run and the best validation score so far."""

    start: int = 0
    best_score: tuple[float, float] = (-math.inf, -math.inf)
    best_epoch: int = -1


def fit(
    module: nn.Module,
    export: Callable[[], nn.Module],
    train_loader: DataLoader,
    stage: StageConfig,
    runtime: Runtime,
    out_dir: Path,
    metadata: dict,
    desc: str = "train",
    skip_prefixes: tuple[str, ...] = ("teachers.",),
    *,
    validate: Callable[[nn.Module], dict],
) -> StageResult:
    """Train ``module`` (a distiller or :class:`~reactkd.train.supervised.SupervisedModel`).

    Args:
        module: training ``forward(batch)`` → ``(logits, {"loss_*": tensor})``; ``get_learnable_parameters()``.
        export: returns the network whose weights form ``best.pt`` (the student or the teacher).
        stage: epochs, batch size, optimiser, schedule, selection metric, gradient clipping.
        out_dir: the stage folder (see module docstring).
        metadata: JSON-able facts stored in ``best.pt`` (config, fold, preprocessing, modalities …).
        skip_prefixes: state-dict keys not saved in ``last.pt`` (frozen teachers are saved elsewhere).
        validate: maps the exported network to validation metrics (must include ``stage.select_metric``):
            :func:`~reactkd.train.validation.classification_validator` for grading, Dice on whole
            validation volumes for segmentation.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    finished = _finished_stage(out_dir)
    if finished is not None:
        return finished
    runtime.prepare_model(module)  # device and memory format (reactkd.train.performance)
    opt = _build_optimisation(module, stage, runtime)
    progress = _resume(out_dir / "last.pt", module, opt, train_loader, runtime, skip_prefixes)
    _truncate_metrics(out_dir / "metrics.csv", progress.start)
    board = _tensorboard(out_dir) if stage.tensorboard and runtime.is_main else None
    trainer = _distributed(module, runtime)
    for epoch in range(progress.start, stage.epochs):
        t0 = time.perf_counter()
        train_means, lr = _train_epoch(trainer, train_loader, opt, stage, runtime, epoch, desc)
        val = validate(export())
        score = _score(val, stage.select_metric.value, epoch)
        improved = score > progress.best_score
        if improved:
            progress.best_score, progress.best_epoch = score, epoch
        if runtime.is_main:
            # Order matters for resuming: the metrics row first (dropped on resume if last.pt is older),
            # then best.pt, then last.pt, which marks the epoch as completed.
            _log_epoch(out_dir / "metrics.csv", board,
                       _epoch_row(epoch, lr, time.perf_counter() - t0, train_means, val))
            if improved:
                save_checkpoint(out_dir / "best.pt", {"model": export().state_dict()},
                                {**metadata, "epoch": epoch, "val_metrics": val})
            _save_last(out_dir / "last.pt", module, opt, train_loader, skip_prefixes, epoch, progress)
        runtime.barrier()
    if board is not None:
        board.close()
    if runtime.is_main:
        atomic_write_text(out_dir / "done.json",
                          json.dumps({"best_epoch": progress.best_epoch,
                                      "best_metric": _shown(stage.select_metric.value, progress.best_score)}))
    runtime.barrier()
    return StageResult(out_dir / "best.pt", progress.best_epoch, _shown(stage.select_metric.value, progress.best_score),
                       stage.epochs - progress.start)


def _finished_stage(out_dir: Path) -> StageResult | None:
    """The result of a stage whose ``done.json`` exists (it is skipped), else None."""
    done = out_dir / "done.json"
    if not done.is_file():
        return None
    info = json.loads(done.read_text())
    return StageResult(out_dir / "best.pt", info["best_epoch"], info["best_metric"], 0)


def _build_optimisation(module: nn.Module, stage: StageConfig, runtime: Runtime) -> _Optimisation:
    params = module.get_learnable_parameters()
    head = [p for name, p in module.named_parameters() if ".head." in f".{name}"]  # student.head.*, model.head.*
    optimizer = build_optimizer(params, stage, head)
    return _Optimisation(params, optimizer, build_scheduler(optimizer, stage), runtime.grad_scaler())


def _resume(last: Path, module: nn.Module, opt: _Optimisation, train_loader: DataLoader, runtime: Runtime,
            skip_prefixes: tuple[str, ...]) -> _Progress:
    """Restore everything ``last.pt`` holds (weights, optimiser, schedule, scaler, every random stream),
    or start afresh when there is none."""
    if not last.is_file():
        return _Progress()
    state, meta = load_checkpoint(last, map_location=runtime.device)
    missing, unexpected = module.load_state_dict(state["module"], strict=False)
    if unexpected or [k for k in missing if not k.startswith(skip_prefixes)]:
        raise ValueError(f"{last} does not match this model (missing {missing[:5]}, unexpected {unexpected[:5]}).")
    opt.optimizer.load_state_dict(state["optimizer"])
    opt.scheduler.load_state_dict(state["scheduler"])
    opt.scaler.load_state_dict(state["scaler"])
    set_rng_state(state["rng"])
    load_loader_state(train_loader, state["loader"])
    return _Progress(meta["epoch"] + 1, tuple(meta["best_score"]), meta["best_epoch"])


def _distributed(module: nn.Module, runtime: Runtime) -> nn.Module:
    if not runtime.distributed:
        return module
    return torch.nn.parallel.DistributedDataParallel(
        module, device_ids=[runtime.device.index] if runtime.device.type == "cuda" else None,
        find_unused_parameters=True)


def _train_epoch(trainer: nn.Module, loader: DataLoader, opt: _Optimisation, stage: StageConfig, runtime: Runtime,
                 epoch: int, desc: str) -> tuple[dict[str, float], float]:
    """One pass over ``loader``; returns (mean of each loss term, the epoch's learning rate) and steps
    the schedule."""
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    trainer.train()
    sums: dict[str, float] = {}
    n = 0
    label = f"{desc} {epoch + 1}/{stage.epochs}"
    # A progress bar on a terminal; in a log file or pipe one line per epoch instead of carriage-return noise
    # (the line keeps the bar's "fold 0 teacher 3/12" label, which the Slicer trainer reads as progress).
    interactive = sys.stderr.isatty()
    bar = tqdm(loader, desc=label, leave=False, disable=not (runtime.is_main and interactive))
    for batch in bar:
        batch = runtime.to_device(batch)
        with runtime.autocast():
            _, losses = trainer(batch)
            loss = sum(losses.values())
        opt.optimizer.zero_grad(set_to_none=True)
        opt.scaler.scale(loss).backward()
        if stage.grad_clip:
            opt.scaler.unscale_(opt.optimizer)
            torch.nn.utils.clip_grad_norm_(opt.params, stage.grad_clip)
        opt.scaler.step(opt.optimizer)
        opt.scaler.update()
        n += 1
        for k, v in {"loss": loss, **losses}.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        bar.set_postfix(loss=f"{sums['loss'] / n:.3f}")
    lr = opt.optimizer.param_groups[0]["lr"]
    opt.scheduler.step()
    if runtime.is_main and not interactive:
        print(f"{label}: loss {sums.get('loss', 0.0) / max(n, 1):.3f}", file=sys.stderr, flush=True)
    return {k: v / max(n, 1) for k, v in sums.items()}, lr


def _epoch_row(epoch: int, lr: float, seconds: float, train_means: dict, val: dict) -> dict:
    """One ``metrics.csv`` row: epoch (1-based), learning rate, seconds, ``train_*`` and ``val_*``."""
    return {"epoch": epoch + 1, "lr": lr, "seconds": round(seconds, 2),
            **{f"train_{k}": round(v, 5) for k, v in train_means.items()},
            **{f"val_{k}": round(v, 5) for k, v in val.items()}}


def _log_epoch(csv_path: Path, board, row: dict) -> None:
    """Append the epoch's row to ``metrics.csv`` and, when watching, to TensorBoard."""
    _append_metrics(csv_path, row)
    if board is not None:
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                board.add_scalar(key.replace("_", "/", 1), value, row["epoch"])
        board.flush()


def _save_last(last: Path, module: nn.Module, opt: _Optimisation, train_loader: DataLoader,
               skip_prefixes: tuple[str, ...], epoch: int, progress: _Progress) -> None:
    """The full training state after ``epoch`` (atomic: written beside ``last`` and renamed)."""
    save_checkpoint(last, {"module": _trainable_state(module, skip_prefixes), "optimizer": opt.optimizer.state_dict(),
                           "scheduler": opt.scheduler.state_dict(), "scaler": opt.scaler.state_dict(),
                           "rng": rng_state(), "loader": loader_state(train_loader)},
                    {"epoch": epoch, "best_epoch": progress.best_epoch, "best_score": list(progress.best_score)})


def _tensorboard(out_dir: Path):
    """A TensorBoard writer for ``out_dir/tensorboard`` (the CSV stays the record; this is for watching)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # torch raises ImportError naming tensorboard when it is not installed
        raise ValueError("`tensorboard: true` needs the tensorboard package: "
                         "pip install 'reactkd[tensorboard]'.") from err
    return SummaryWriter(str(out_dir / "tensorboard"))


def _append_metrics(path: Path, row: dict) -> None:
    rows = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    rows.append({k: str(v) for k, v in row.items()})
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def _truncate_metrics(path: Path, completed_epochs: int) -> None:
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if int(r["epoch"]) <= completed_epochs]
    if len(kept) != len(rows):
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(kept)
