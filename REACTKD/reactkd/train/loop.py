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
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from reactkd.config.schema import StageConfig
from reactkd.train.checkpoint import load_checkpoint, save_checkpoint
from reactkd.train.optim import build_optimizer, build_scheduler
from reactkd.train.predict import predict_loader
from reactkd.train.runtime import Runtime

__all__ = ["fit", "StageResult"]


@dataclass
class StageResult:
    best_path: Path
    best_epoch: int
    best_metric: float
    epochs_run: int


def _val_metrics(pred: dict) -> dict:
    import warnings

    from reactkd.evaluate.metrics import fold_metrics

    logits = torch.from_numpy(pred["logits"])
    probs = torch.softmax(logits, 1).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small validation split may lack a grade: AUC over present grades
        m = fold_metrics(pred["label"] + 1, probs)
    m["loss"] = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(pred["label"])))
    return m


def _score(m: dict, metric: str) -> tuple[float, float]:
    value = m.get(metric, float("nan"))
    return (value if math.isfinite(value) else -1.0, -m.get("loss", 0.0))


def _rng_state() -> dict:
    _, keys, pos, _, _ = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(keys.astype(np.int64)),
            "numpy_pos": torch.tensor(pos), "python": torch.tensor(random.getstate()[1], dtype=torch.int64)}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), int(state["numpy_pos"]), 0, 0.0))
    random.setstate((3, tuple(int(v) for v in state["python"].tolist()), None))


def _trainable_state(module: nn.Module, prefixes_to_skip: tuple[str, ...]) -> dict:
    return {k: v for k, v in module.state_dict().items() if not k.startswith(prefixes_to_skip)}


def fit(
    module: nn.Module,
    export: Callable[[], nn.Module],
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    stage: StageConfig,
    runtime: Runtime,
    out_dir: Path,
    metadata: dict,
    desc: str = "train",
    skip_prefixes: tuple[str, ...] = ("teachers.",),
    validate: Callable[[nn.Module], dict] | None = None,
) -> StageResult:
    """Train ``module`` (a distiller or :class:`~reactkd.train.supervised.SupervisedModel`).

    Args:
        module: training ``forward(batch)`` → ``(logits, {"loss_*": tensor})``; ``get_learnable_parameters()``.
        export: returns the network whose weights form ``best.pt`` (the student or the teacher).
        stage: epochs, batch size, optimiser, schedule, selection metric, gradient clipping.
        out_dir: the stage folder (see module docstring).
        metadata: JSON-able facts stored in ``best.pt`` (config, fold, preprocessing, modalities …).
        skip_prefixes: state-dict keys not saved in ``last.pt`` (frozen teachers are saved elsewhere).
        validate: maps the exported network to validation metrics (must include ``stage.select_metric``);
            default: classification metrics of the network's predictions on ``val_loader``. Segmentation
            passes its own (Dice on whole validation volumes).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    done = out_dir / "done.json"
    if done.is_file():
        info = json.loads(done.read_text())
        return StageResult(out_dir / "best.pt", info["best_epoch"], info["best_metric"], 0)
    runtime.prepare_model(module)  # device and memory format (reactkd.train.performance)
    params = module.get_learnable_parameters()
    optimizer = build_optimizer(params, stage)
    scheduler = build_scheduler(optimizer, stage)
    scaler = runtime.grad_scaler()
    start, best_score, best_epoch = 0, (-math.inf, -math.inf), -1
    last = out_dir / "last.pt"
    if last.is_file():
        state, meta = load_checkpoint(last, map_location=runtime.device)
        missing, unexpected = module.load_state_dict(state["module"], strict=False)
        if unexpected or [k for k in missing if not k.startswith(skip_prefixes)]:
            raise ValueError(f"{last} does not match this model (missing {missing[:5]}, unexpected {unexpected[:5]}).")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        _set_rng_state(state["rng"])
        start, best_epoch = meta["epoch"] + 1, meta["best_epoch"]
        best_score = tuple(meta["best_score"])
    _truncate_metrics(out_dir / "metrics.csv", start)
    board = _tensorboard(out_dir) if stage.tensorboard and runtime.is_main else None
    trainer = module
    if runtime.distributed:
        trainer = torch.nn.parallel.DistributedDataParallel(
            module, device_ids=[runtime.device.index] if runtime.device.type == "cuda" else None,
            find_unused_parameters=True)
    for epoch in range(start, stage.epochs):
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        trainer.train()
        sums: dict[str, float] = {}
        n = 0
        bar = tqdm(train_loader, desc=f"{desc} {epoch + 1}/{stage.epochs}", leave=False, disable=not runtime.is_main)
        for batch in bar:
            batch = runtime.to_device(batch)
            with runtime.autocast():
                _, losses = trainer(batch)
                loss = sum(losses.values())
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if stage.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, stage.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            n += 1
            for k, v in {"loss": loss, **losses}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{sums['loss'] / n:.3f}")
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        val = validate(export()) if validate is not None else _val_metrics(predict_loader(export(), val_loader, runtime))
        score = _score(val, stage.select_metric.value)
        improved = score > best_score
        if improved:
            best_score, best_epoch = score, epoch
        if runtime.is_main:
            # Order matters for resuming: the metrics row first (dropped on resume if last.pt is older),
            # then best.pt, then last.pt, which marks the epoch as completed.
            row = {"epoch": epoch + 1, "lr": lr, "seconds": round(time.perf_counter() - t0, 2),
                   **{f"train_{k}": round(v / max(n, 1), 5) for k, v in sums.items()},
                   **{f"val_{k}": round(v, 5) for k, v in val.items()}}
            _append_metrics(out_dir / "metrics.csv", row)
            if board is not None:
                for key, value in row.items():
                    if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                        board.add_scalar(key.replace("_", "/", 1), value, epoch + 1)
                board.flush()
            if improved:
                save_checkpoint(out_dir / "best.pt", {"model": export().state_dict()},
                                {**metadata, "epoch": epoch, "val_metrics": val})
            save_checkpoint(last, {"module": _trainable_state(module, skip_prefixes), "optimizer": optimizer.state_dict(),
                                   "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "rng": _rng_state()},
                            {"epoch": epoch, "best_epoch": best_epoch, "best_score": list(best_score)})
        runtime.barrier()
    if board is not None:
        board.close()
    if runtime.is_main:
        done.write_text(json.dumps({"best_epoch": best_epoch, "best_metric": best_score[0]}))
    runtime.barrier()
    return StageResult(out_dir / "best.pt", best_epoch, best_score[0], stage.epochs - start)


def _tensorboard(out_dir: Path):
    """A TensorBoard writer for ``out_dir/tensorboard`` (the CSV stays the record; this is for watching)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:  # torch raises ImportError naming tensorboard when it is not installed
        raise ValueError("`tensorboard: true` needs the tensorboard package: pip install 'reactkd[tensorboard]'.") from err
    return SummaryWriter(str(out_dir / "tensorboard"))


def _append_metrics(path: Path, row: dict) -> None:
    rows = []
    if path.is_file():
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    rows.append({k: str(v) for k, v in row.items()})
    columns = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)


def _truncate_metrics(path: Path, completed_epochs: int) -> None:
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    kept = [r for r in rows if int(r["epoch"]) <= completed_epochs]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(kept)
