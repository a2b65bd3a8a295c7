"""What a model file expects, read without torch, and checked before a run so a mismatch is explained
instead of crashing.

Slicer's GUI process never imports torch to grade: a checkpoint's JSON metadata is read from the file
written beside it (``best.json`` beside ``best.pt``, see :func:`metadata_path`; the shipped model and
:func:`write_metadata_sidecar` write it) or, where there is none, straight out of the checkpoint's zip
archive with an unpickler that knows only plain containers and builds no tensor (:func:`peek_metadata`).
"""

from __future__ import annotations

import collections
import json
import pickle
import zipfile
from pathlib import Path

__all__ = ["metadata_path", "peek_metadata", "read_checkpoint_metadata", "write_metadata_sidecar",
           "student_checkpoints", "read_model_metadata", "model_input_problems"]

FORMAT_PREFIX = "reactkd-checkpoint"
"""Every REACTKD checkpoint's ``format`` starts with this (``reactkd.train.checkpoint.FORMAT``)."""


def metadata_path(checkpoint) -> Path:
    """The JSON metadata file beside a checkpoint: ``…/best.pt`` → ``…/best.json``."""
    return Path(checkpoint).with_suffix(".json")


class _NoTensors(pickle.Unpickler):
    """Reads a ``torch.save`` pickle as plain containers: every tensor and storage becomes ``None``.

    Only ``collections.OrderedDict`` and names under ``torch`` are resolved, and the ``torch`` ones to a
    function that returns ``None``: nothing from the file is ever called, so a crafted file runs no code
    (the same guarantee as ``torch.load(weights_only=True)``, which refuses such a file)."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch" or module.startswith("torch."):
            return _nothing
        raise pickle.UnpicklingError(f"refusing the global {module}.{name}")

    def persistent_load(self, pid):
        return None  # a tensor's storage record: not read


def _nothing(*args, **kwargs):
    return None


def peek_metadata(checkpoint) -> dict:
    """The metadata of a REACTKD checkpoint read from its zip archive without torch.

    Raises:
        ValueError: not a zip checkpoint written by ``torch.save``, not a REACTKD checkpoint, or metadata
            that is not a JSON object; the message names the file.
    """
    path = Path(checkpoint)
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                raise ValueError("no data.pkl inside")
            blob = _NoTensors(archive.open(name)).load()
    except (zipfile.BadZipFile, OSError, EOFError, pickle.UnpicklingError, ValueError, AttributeError,
            IndexError, TypeError) as err:
        raise ValueError(f"{path} is not a readable REACTKD checkpoint (truncated, corrupt or another format: "
                         f"{type(err).__name__}: {err}).") from None
    if not isinstance(blob, dict) or not str(blob.get("format", "")).startswith(FORMAT_PREFIX):
        raise ValueError(f"{path} is not a REACTKD checkpoint (no '{FORMAT_PREFIX}…' format record).")
    metadata = blob.get("metadata")
    try:
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    except ValueError as err:
        raise ValueError(f"{path}: its metadata is not JSON ({err}).") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{path}: its metadata is not a JSON object.")
    return metadata


def read_checkpoint_metadata(checkpoint) -> dict:
    """A checkpoint's metadata: from ``best.json`` beside it when present, else from the file itself.

    Raises:
        FileNotFoundError: no such checkpoint.
        ValueError: an unreadable checkpoint or sidecar (the message names the file).
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path} is an empty file (0 bytes): an interrupted copy? Copy the model again.")
    side = metadata_path(path)
    if side.is_file():
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ValueError(f"{side} is not JSON ({err}); delete it or copy the model again.") from None
        if not isinstance(data, dict):
            raise ValueError(f"{side} is not a JSON object; delete it or copy the model again.")
        return data
    return peek_metadata(path)


def write_metadata_sidecar(checkpoint) -> Path:
    """Write ``best.json`` beside ``checkpoint`` from the checkpoint's own metadata; returns its path."""
    side = metadata_path(checkpoint)
    side.write_text(json.dumps(peek_metadata(checkpoint), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return side


def student_checkpoints(run) -> list[Path]:
    """``fold*/student/best.pt`` of a run folder in fold order (what ``reactkd predict --model RUN`` grades with)."""
    def fold(path: Path) -> int:
        digits = path.parent.parent.name[4:]
        return int(digits) if digits.isdigit() else 0

    return sorted(Path(run).glob("fold*/student/best.pt"), key=fold)


def read_model_metadata(model) -> dict:
    """The JSON metadata of a student checkpoint, or of a run folder's first fold student; no torch.

    Raises:
        FileNotFoundError: no such file, or a folder without a trained student.
        ValueError: not a REACTKD checkpoint.
    """
    path = Path(model)
    if path.is_dir():
        candidates = student_checkpoints(path)
        if not candidates:
            raise FileNotFoundError(f"{path} holds no trained student (fold*/student/best.pt).")
        path = candidates[0]
    return read_checkpoint_metadata(path)


def model_input_problems(metadata: dict, pet_tracers: list[str]) -> tuple[list[str], list[str]]:
    """``(errors, notes)`` for running this model on a CT plus PETs of ``pet_tracers``.

    Errors stop the run (not a student, not a CT model, a PET tracer the model never saw); notes are shown
    (a PET the CT-only model ignores; a PET model run without PET uses its CT-only path, which modality
    dropout trained).
    """
    errors, notes = [], []
    kind = metadata.get("kind")
    if kind != "student":
        errors.append(f"The model is a {kind!r} checkpoint; REACTKD grades with a distilled student "
                      "(fold*/student/best.pt).")
        return errors, notes
    inputs = metadata.get("inputs", {})
    if not inputs.get("ct", True):
        errors.append("The model was not trained on CT; it cannot grade this study.")
    pet_channels = int(metadata.get("model_kwargs", {}).get("pet_channels", 0))
    known = [t.lower() for t in inputs.get("pet_tracers", [])]
    if pet_tracers and pet_channels == 0:
        notes.append("The model uses CT only; the PET volume(s) are ignored.")
    elif pet_tracers:
        unknown = [t for t in pet_tracers if t.lower() not in known]
        if unknown:
            errors.append(f"The model was trained with PET tracers {known}, not {unknown}.")
    elif pet_channels > 0:
        notes.append("The model was trained with PET; without PET it grades from CT alone.")
    return errors, notes
