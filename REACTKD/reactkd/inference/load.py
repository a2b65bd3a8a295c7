"""Load a trained student: a checkpoint file, or the best fold student of a run folder."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from reactkd.config.run_dir import read_run_info
from reactkd.models import Student, student_spec
from reactkd.train.checkpoint import load_checkpoint, require_metadata

__all__ = ["load_student", "best_checkpoint", "STUDENT_METADATA"]


def best_checkpoint(model: str | Path) -> Path:
    """A checkpoint file as given, or in a run folder the fold student with the best validation metric.

    Raises:
        FileNotFoundError: no such file, or a folder without ``fold*/student/best.pt``.
        FormatError: a run folder of another format version.
    """
    path = Path(model)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"model not found: {path} (give a checkpoint file or a run folder)")
    read_run_info(path)
    candidates = sorted(path.glob("fold*/student/best.pt"))
    if not candidates:
        raise FileNotFoundError(f"{path} holds no trained student (fold*/student/best.pt).")

    def score(p: Path) -> float:
        done = p.parent / "done.json"
        if not done.is_file():
            return -1.0
        try:
            value = float(json.loads(done.read_text()).get("best_metric", -1.0))
        except (ValueError, TypeError, AttributeError) as err:
            raise ValueError(f"{done}: not a readable stage record ({err}); the run folder is damaged.") from None
        return value if value == value else -1.0  # NaN: a stage that kept its last epoch ranks nothing

    return max(candidates, key=score)


STUDENT_METADATA = ("kind", "model_kwargs", "preprocess")
"""Metadata fields inference needs: what the checkpoint holds, how to build it, how to preprocess."""


def load_student(model: str | Path, device: str | torch.device = "cpu"):
    """Returns ``(student in eval mode, metadata)`` from a checkpoint file or a run folder's best student.

    The file is read onto the CPU and the built network moved to ``device`` afterwards, so a device
    problem is reported as one (by torch, on ``.to``), never as a bad checkpoint.

    Raises:
        ValueError: naming the file: not a student, metadata fields missing, ``model_kwargs`` that build
            no student, or weights of another shape than the student the metadata describes.
    """
    path = best_checkpoint(model)
    state, meta = load_checkpoint(path, map_location="cpu")
    require_metadata(meta, STUDENT_METADATA, path)
    if meta["kind"] != "student":
        raise ValueError(f"{path} holds a {meta['kind']!r} checkpoint, not a student.")
    if not isinstance(meta["model_kwargs"], dict) or not isinstance(state.get("model"), dict):
        raise ValueError(f"checkpoint {path}: `model_kwargs` must be a mapping and the state must hold "
                         "`model` weights.")
    try:
        student = Student(student_spec(meta["model_kwargs"], "model_kwargs"))
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {path}: its `model_kwargs` do not build a student: {err}") from None
    try:
        student.load_state_dict(state["model"])
    except RuntimeError as err:
        detail = next((ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()), str(err).splitlines()[0])
        raise ValueError(f"checkpoint {path}: its weights do not fit the student its metadata describes "
                         f"({detail})") from None
    return student.to(device).eval(), meta
