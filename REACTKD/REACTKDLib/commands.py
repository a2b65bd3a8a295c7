"""Command lines that run the ``reactkd`` core in a separate Python process.

Inside Slicer the interpreter is ``PythonSlicer`` (Slicer's Python without the application, so torch
runs outside the GUI process); elsewhere it is the current interpreter. The core package ships in the
REACTKD module's folder, which is put on the child's ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import shutil
import sys
from pathlib import Path

__all__ = ["MODULE_DIR", "python_executable", "child_environment", "reactkd_command", "resolve_device", "cuda_likely",
           "predict_args", "predict_command", "train_command", "evaluate_command", "segment_command",
           "parse_training_progress"]

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
    """``auto`` → ``cuda`` or ``cpu`` without importing torch in Slicer's process; ``cpu``/``cuda``/``cuda:N``
    as given.

    ``auto`` asks torch only when it is already imported here; otherwise it answers ``cuda`` when both an
    NVIDIA driver is present and the installed torch is a CUDA build (:func:`cuda_likely`). Grading passes
    ``auto`` to its worker instead, which resolves it with torch in the child.

    Raises:
        ValueError: another value.
    """
    device = (device or "auto").strip().lower()
    if device == "auto":
        torch = sys.modules.get("torch")
        if torch is not None and hasattr(torch, "cuda"):
            return "cuda" if torch.cuda.is_available() else "cpu"
        return "cuda" if cuda_likely() else "cpu"
    if device == "cpu" or re.fullmatch(r"cuda(:\d+)?", device):
        return device
    raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}.")


def cuda_likely(platform: str | None = None, version=None, files=None) -> bool:
    """An NVIDIA driver is installed (Linux: ``/proc/driver/nvidia/version``; Windows: ``nvcuda.dll``) and
    the installed torch is a CUDA build (a ``+cu…`` version, or CUDA runtime files among its files), read
    from package metadata without importing torch. ``version``/``files``: ``importlib.metadata``'s (tests)."""
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux"):
        driver = Path("/proc/driver/nvidia/version").is_file()
    elif platform.startswith("win"):
        driver = (Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32" / "nvcuda.dll").is_file()
    else:
        return False  # macOS has no CUDA
    if not driver:
        return False
    try:
        torch_version = (version or md.version)("torch")
        torch_files = (files or md.files)("torch") or []
    except md.PackageNotFoundError:
        return False
    if "+cu" in torch_version:
        return True
    if "+cpu" in torch_version:
        return False
    return any("cudart" in str(f).lower() or "cudnn" in str(f).lower() for f in torch_files) or _nvidia_wheels(md)


def _nvidia_wheels(md) -> bool:
    """PyPI's Linux torch pulls the CUDA runtime as ``nvidia-cuda-runtime-cu12`` (or ``-cu11``)."""
    for name in ("nvidia-cuda-runtime-cu12", "nvidia-cuda-runtime-cu11", "nvidia-cuda-runtime"):
        try:
            md.version(name)
            return True
        except md.PackageNotFoundError:
            pass
    return False


def predict_args(ct: str, liver: str, out: str, tumor: str | None = None, pets: dict[str, str] | None = None,
                 model: str | None = None, device: str | None = None) -> list[str]:
    """The arguments of one ``reactkd predict`` after the subcommand (``--ct … --liver … --out …``):
    what :meth:`REACTKDLib.worker.InferenceWorker.submit` takes (the worker adds its model and device)."""
    args = ["--model", str(model)] if model else []
    args += ["--ct", str(ct), "--liver", str(liver), "--out", str(out)]
    if device:
        args += ["--device", device]
    if tumor:
        args += ["--tumor", str(tumor)]
    for tracer, path in (pets or {}).items():
        args += ["--pet", f"{tracer}={path}"]
    return args


def predict_command(model: str, ct: str, liver: str, out: str, tumor: str | None = None,
                    pets: dict[str, str] | None = None, device: str = "cpu") -> list[str]:
    """``reactkd predict`` as its own process, for files already written (see :mod:`REACTKDLib.inference`)."""
    return reactkd_command("predict", *predict_args(ct, liver, out, tumor, pets, model, device))


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
