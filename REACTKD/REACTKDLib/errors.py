"""Turn a failed run's output into a sentence a radiologist can act on (the full output is logged)."""

from __future__ import annotations

import re

__all__ = ["USER_ERRORS", "explain_failure", "first_line", "wait_or_raise"]

USER_ERRORS = (ValueError, FileNotFoundError, RuntimeError, OSError)
"""What this library raises for a bad input or a failed run, with a message for the user (a panel shows it
as one line; anything else is a bug)."""

_RULES = [
    (re.compile(r"CUDA out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|HIP out of memory", re.I),
     "The GPU ran out of memory. Choose 'cpu' as device (slower, always works) or close other programs "
     "using the GPU, then press Apply again."),
    (re.compile(r"liver mask is empty|needs a liver node|no segment name matches \['liver'\]", re.I),
     "No liver found: select the segment that holds the liver (it must not be empty on this CT)."),
    (re.compile(r"does not overlap the CT|another scan or frame of reference", re.I),
     "The segmentation or PET does not lie on this CT (another scan or another frame of reference). "
     "Select the segmentation made on this CT, or register the PET to it first."),
    (re.compile(r"not a student|holds a '?\w+'? checkpoint|pet_channels|size mismatch|Missing key", re.I),
     "The model file does not fit these inputs (it is not a REACT-KD student, or it was trained for other "
     "modalities). Choose a student model trained with `reactkd train`."),
    (re.compile(r"model not found|holds no trained student|No such file", re.I),
     "The model file was not found. Choose a student checkpoint (best.pt) or a run folder from `reactkd train`."),
    (re.compile(r"CUDA (driver|error)|no CUDA GPUs are available|Torch not compiled with CUDA", re.I),
     "CUDA is not usable here (no GPU, a driver problem or a CPU-only torch). Choose 'cpu' as device."),
    (re.compile(r"grading process (had )?stopped unexpectedly", re.I),
     "The grading process stopped unexpectedly (see the log). Press Apply again: it restarts."),
    (re.compile(r"No module named '?(torch|monai|ot|einops|slicerio)", re.I),
     "A required Python package is missing. Press Apply again and accept the installation."),
]


def first_line(text) -> str:
    """The first non-empty line of ``text`` (what a one-line label shows; the log keeps the rest), or ``""``."""
    return next((line.strip() for line in str(text or "").splitlines() if line.strip()), "")


def explain_failure(lines: list[str], returncode: int | None, cancelled: bool = False, what: str = "prediction") -> str:
    """One or two sentences for the user from the child's output lines and exit code (``what`` names the run)."""
    if cancelled:
        return "Cancelled."
    text = "\n".join(lines)
    for pattern, message in _RULES:
        if pattern.search(text):
            return message
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    core = re.sub(r"^reactkd \w+: error: ", "", last)
    return f"The {what} failed (exit code {returncode}): {core or 'no output'}. See the log for details."


def wait_or_raise(process, timeout: float | None = None, on_line=None, what: str = "prediction",
                  process_events=None) -> None:
    """Block until a background run ends (scripts, tests); unless it succeeded, raise RuntimeError with
    :func:`explain_failure`'s words. ``process`` is a :class:`~REACTKDLib.process.BackgroundProcess` or a
    :class:`~REACTKDLib.worker.WorkerJob`; ``process_events()`` (``slicer.app.processEvents``) runs between
    polls so Slicer keeps drawing."""
    code = process.wait(timeout, on_line, process_events)
    if code != 0:
        raise RuntimeError(explain_failure(process.lines, code, process.cancelled, what))
