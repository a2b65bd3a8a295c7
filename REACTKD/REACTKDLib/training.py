"""Two-stage REACT-KD training and evaluation started from Slicer (console, ``PythonSlicer``, or the
REACTKDTrainer module): the core's ``reactkd train`` / ``reactkd evaluate`` in a separate process, so
the run folder is exactly the one the command line writes, re-running resumes it, and cancelling stops
it cleanly (the next run resumes from the last completed epoch).

The trainer panel drives a run from a timer: :func:`start_training_run` returns a :class:`TrainingRun`
at once, whose :meth:`TrainingRun.poll` updates the overall fraction and the stage text. Scripts use
:func:`run_blocking`, passing ``process_events`` (``slicer.app.processEvents``) so Slicer keeps drawing.
``device="auto"`` is resolved by the training process itself (CUDA when its torch sees a GPU): nothing
here imports torch.
"""

from __future__ import annotations

import logging
from pathlib import Path

from REACTKDLib.commands import MODULE_DIR, child_environment, evaluate_command, parse_training_progress, train_command
from REACTKDLib.process import BackgroundProcess

__all__ = ["config_folds", "start_training", "start_evaluation", "run_blocking", "TrainingRun", "start_training_run"]

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
    """Launch ``reactkd train`` (``device="auto"``: CUDA when the run's torch sees a GPU); poll it, wrap it in
    a :class:`TrainingRun`, or :func:`run_blocking`."""
    device = (device or "auto").strip().lower()
    command = train_command(str(config), str(out), overrides, device, report)
    log.info("REACTKD: %s", " ".join(command))
    return BackgroundProcess(command, env=child_environment(device))


def start_evaluation(run: str, *extra: str) -> BackgroundProcess:
    """Launch ``reactkd evaluate --run RUN`` (e.g. ``extra=("--withhold", "pet")``)."""
    return BackgroundProcess(evaluate_command(str(run), *extra), env=child_environment("auto"))


def run_blocking(process: BackgroundProcess, folds: int | None = None, on_progress=None,
                 timeout: float | None = None, process_events=None) -> int:
    """Wait for a training/evaluation process, reporting ``on_progress(fraction or None, line)`` for each
    output line (``fraction`` from :func:`parse_training_progress` when ``folds`` is given) and calling
    ``process_events()`` between polls (``slicer.app.processEvents``: the application keeps drawing).

    Ctrl+C (KeyboardInterrupt) cancels the child before re-raising, so no orphan keeps the GPU.
    """
    def line_cb(line: str) -> None:
        parsed = parse_training_progress(line, folds) if folds else None
        if on_progress:
            on_progress(parsed[0] if parsed else None, parsed[1] if parsed else line)

    try:
        return process.wait(timeout, line_cb, process_events)
    except KeyboardInterrupt:
        process.cancel()
        raise


class TrainingRun:
    """A running ``reactkd train`` for a panel's timer.

    Attributes:
        process: the background process (``cancel()`` stops it; starting again resumes).
        out: the run folder.
        folds: the config's fold count (progress is over ``2 × folds`` stages).
        fraction: overall fraction done (0 before the first epoch line); text: the stage, e.g.
            ``"fold 2/3: student epoch 4/24"``.
    """

    def __init__(self, process: BackgroundProcess, out, folds: int):
        self.process, self.out, self.folds = process, Path(out), folds
        self.fraction, self.text = 0.0, "starting…"

    def poll(self) -> list[str]:
        """New output lines (never blocks); updates :attr:`fraction` and :attr:`text`."""
        lines = self.process.poll()
        for line in lines:
            parsed = parse_training_progress(line, self.folds)
            if parsed is not None:
                self.fraction, self.text = parsed
        return lines

    @property
    def running(self) -> bool:
        return self.process.running

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def cancel(self) -> None:
        self.process.cancel()

    def students(self) -> list[Path]:
        """The trained fold students so far (``fold*/student/best.pt``): a finished run has one per fold."""
        return sorted(self.out.glob("fold*/student/best.pt"))


def start_training_run(config: str, out: str, device: str = "auto", overrides: list[str] | None = None,
                       report: bool = True) -> TrainingRun:
    """:func:`start_training` wrapped for a timer: returns at once; poll the run."""
    return TrainingRun(start_training(config, out, device, overrides, report), out, config_folds(config, overrides))
