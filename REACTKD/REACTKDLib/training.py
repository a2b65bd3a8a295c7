"""Two-stage REACT-KD training and evaluation started from Slicer (console, ``PythonSlicer``, or the
REACTKDTrainer module): the core's ``reactkd train`` / ``reactkd evaluate`` in a separate process, so
the run folder is exactly the one the command line writes, re-running resumes it, and cancelling stops
it cleanly (the next run resumes from the last completed epoch).
"""

from __future__ import annotations

import logging
from pathlib import Path

from REACTKDLib.commands import (MODULE_DIR, child_environment, evaluate_command, parse_training_progress,
                                 resolve_device, train_command)
from REACTKDLib.process import BackgroundProcess

__all__ = ["config_folds", "start_training", "start_evaluation", "run_blocking"]

log = logging.getLogger("REACTKD")


def config_folds(config: str, overrides: list[str] | None = None) -> int:
    """Number of folds of a config (path or shipped name), honouring ``data.folds=`` overrides."""
    import yaml

    path = Path(config)
    if not path.is_file():
        path = MODULE_DIR / "reactkd" / "configs" / f"{config}.yaml"
    folds = 3
    if path.is_file():
        data = yaml.safe_load(path.read_text()) or {}
        folds = int((data.get("data") or {}).get("folds", folds))
    for item in overrides or []:
        key, _, value = item.partition("=")
        if key.strip() == "data.folds":
            folds = int(value)
    return folds


def start_training(config: str, out: str, device: str = "auto", overrides: list[str] | None = None,
                   report: bool = True) -> BackgroundProcess:
    """Launch ``reactkd train`` (CUDA when present with ``device="auto"``); poll or :func:`run_blocking`."""
    device = resolve_device(device)
    command = train_command(str(config), str(out), overrides, device, report)
    log.info("REACTKD: %s", " ".join(command))
    return BackgroundProcess(command, env=child_environment(device))


def start_evaluation(run: str, *extra: str) -> BackgroundProcess:
    """Launch ``reactkd evaluate --run RUN`` (e.g. ``extra=("--withhold", "pet")``)."""
    return BackgroundProcess(evaluate_command(str(run), *extra), env=child_environment("auto"))


def run_blocking(process: BackgroundProcess, folds: int | None = None, on_progress=None,
                 timeout: float | None = None) -> int:
    """Wait for a training/evaluation process, reporting ``on_progress(fraction or None, line)`` for each
    output line (``fraction`` from :func:`parse_training_progress` when ``folds`` is given).

    Ctrl+C (KeyboardInterrupt) cancels the child before re-raising, so no orphan keeps the GPU.
    """
    def line_cb(line: str) -> None:
        parsed = parse_training_progress(line, folds) if folds else None
        if on_progress:
            on_progress(parsed[0] if parsed else None, parsed[1] if parsed else line)

    try:
        return process.wait(timeout, line_cb)
    except KeyboardInterrupt:
        process.cancel()
        raise
