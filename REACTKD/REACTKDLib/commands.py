"""Command lines that run the ``reactkd`` core in a separate Python process.

Inside Slicer the interpreter is ``PythonSlicer`` (Slicer's Python without the application, so torch
runs outside the GUI process); elsewhere it is the current interpreter. The core package ships in the
REACTKD module's folder, which is put on the child's ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

__all__ = ["MODULE_DIR", "python_executable", "child_environment", "reactkd_command", "predict_command",
           "train_command", "evaluate_command", "segment_command", "parse_training_progress"]

MODULE_DIR = Path(__file__).resolve().parents[1]
"""The REACTKD module folder: holds ``reactkd/`` (the core) and ``REACTKDLib/``."""


def python_executable() -> str:
    """``PythonSlicer`` when running inside Slicer (its ``sys.executable`` is the application), else
    the current interpreter."""
    exe = Path(sys.executable).name.lower()
    if exe.startswith("slicer"):
        found = shutil.which("PythonSlicer")
        if found:
            return found
    return sys.executable


def child_environment(device: str = "auto", base: dict | None = None) -> dict:
    """Environment for the child: the core on ``PYTHONPATH``, unbuffered output, and for ``cpu`` no
    visible GPU (so a CPU run cannot fail on an exhausted GPU)."""
    env = dict(os.environ if base is None else base)
    paths = [str(MODULE_DIR)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def reactkd_command(*args: str) -> list[str]:
    """``[python, -m, reactkd, *args]``."""
    return [python_executable(), "-m", "reactkd", *[str(a) for a in args]]


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cpu``/``cuda``/``cuda:N`` as given.

    Raises:
        ValueError: another value.
    """
    device = (device or "auto").strip().lower()
    if device == "auto":
        try:
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        except ImportError:
            return "cpu"
    if device == "cpu" or re.fullmatch(r"cuda(:\d+)?", device):
        return device
    raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}.")


def predict_command(model: str, ct: str, liver: str, out: str, tumor: str | None = None,
                    pets: dict[str, str] | None = None, device: str = "cpu") -> list[str]:
    """``reactkd predict`` for files already written (see :mod:`REACTKDLib.inference`)."""
    args = ["predict", "--model", model, "--ct", ct, "--liver", liver, "--out", out, "--device", device]
    if tumor:
        args += ["--tumor", tumor]
    for tracer, path in (pets or {}).items():
        args += ["--pet", f"{tracer}={path}"]
    return reactkd_command(*args)


def segment_command(model: str, ct: str, out: str, device: str = "cpu") -> list[str]:
    """``reactkd segment`` (liver and tumour masks + ``segmentation.seg.nrrd`` in ``out``), with the
    sliding-window progress bar on (see :func:`REACTKDLib.segmentation.parse_segment_progress`)."""
    return reactkd_command("segment", "--model", model, "--ct", ct, "--out", out, "--device", device, "--progress")


def train_command(config: str, out: str, overrides: list[str] | None = None, device: str | None = None,
                  report: bool = True) -> list[str]:
    """``reactkd train`` (resumes when ``out`` holds a partial run); ``device`` sets ``--set device=…``."""
    args = ["train", "--config", config, "--out", out]
    for item in (overrides or []) + ([f"device={device}"] if device else []):
        args += ["--set", item]
    if not report:
        args.append("--no-report")
    return reactkd_command(*args)


def evaluate_command(run: str, *extra: str) -> list[str]:
    """``reactkd evaluate --run RUN [extra…]`` (e.g. ``--withhold pet``)."""
    return reactkd_command("evaluate", "--run", run, *extra)


_EPOCH = re.compile(r"fold (\d+) (teacher|student) (\d+)/(\d+)")
_FOLD_DONE = re.compile(r"fold (\d+): (teacher|student) best epoch|fold (\d+): done, skipped")


def parse_training_progress(line: str, folds: int) -> tuple[float, str] | None:
    """Overall fraction done and a short text from one line of ``reactkd train`` output, or ``None``.

    Training is ``folds × 2`` stages (teacher, then student, per fold); within a stage the fraction is
    the epoch over the epochs (tqdm's "fold 0 teacher 3/12" bar), so a resumed run starts part-way.
    """
    m = _EPOCH.search(line)
    stages = max(1, 2 * folds)
    if m:
        fold, stage, epoch, epochs = int(m[1]), m[2], int(m[3]), max(1, int(m[4]))
        done = 2 * fold + (stage == "student") + (epoch - 1) / epochs
        return min(done / stages, 1.0), f"fold {fold + 1}/{folds}: {stage} epoch {epoch}/{epochs}"
    m = _FOLD_DONE.search(line)
    if m:
        if m[3] is not None:
            fold = int(m[3])
            return min(2 * (fold + 1) / stages, 1.0), f"fold {fold + 1}/{folds}: already trained"
        fold, stage = int(m[1]), m[2]
        return min((2 * fold + 1 + (stage == "student")) / stages, 1.0), line.strip()
    return None
