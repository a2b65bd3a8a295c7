"""Checkpoints that cannot run code: tensors + JSON metadata, written atomically, loaded with
``torch.load(weights_only=True)``.

A checkpoint is ``{"format": FORMAT, "metadata": <JSON text>, "state": {name: state_dict, …}}``; one of
another format version is refused (:mod:`reactkd.utils.formats`). The
metadata carries what inference needs to reproduce training (package version, resolved config, class
names, preprocessing parameters, input modalities, fold, metrics). ``weights_only=True`` restricts the
unpickler to tensors and plain containers, so a file crafted to execute code on load is refused.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from reactkd import __version__
from reactkd.utils.formats import CHECKPOINT_FORMAT, check_format

__all__ = ["save_checkpoint", "load_checkpoint", "require_metadata", "FORMAT", "UnsafeCheckpointError",
           "DeviceUnavailableError"]

FORMAT = CHECKPOINT_FORMAT
OLDER_CHECKPOINT = "train the model again (`reactkd train`, `reactkd seg-distill`)"


class UnsafeCheckpointError(ValueError):
    """The file holds pickled objects beyond tensors and plain containers (it could run code)."""


class DeviceUnavailableError(ValueError):
    """The device asked for cannot be used (no CUDA, index out of range); the checkpoint is not at fault."""


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any], metadata: dict[str, Any]) -> Path:
    """Write ``state`` (e.g. ``{"model": model.state_dict(), "optimizer": …}``) and ``metadata``.

    Written to a temporary file in the same folder, then renamed, so a crash never leaves a torn file.

    Raises:
        TypeError: if ``metadata`` is not JSON-serialisable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"reactkd_version": __version__, **metadata}
    try:
        text = json.dumps(meta, allow_nan=True)
    except TypeError as err:
        raise TypeError(f"checkpoint `metadata` must be JSON-serialisable: {err}") from err
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"format": FORMAT, "metadata": text, "state": state}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[dict, dict]:
    """Read a checkpoint safely.

    Returns:
        ``(state, metadata)``.

    Raises:
        FileNotFoundError: the file is missing (the path is in the message).
        UnsafeCheckpointError: the file needs arbitrary unpickling (possible code execution): refused.
        DeviceUnavailableError: ``map_location`` names a device this machine lacks.
        FormatError: a REACTKD checkpoint of another format version.
        ValueError: an empty or truncated file, not a REACTKD checkpoint, or metadata that is not a JSON
            object. Every message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"checkpoint {path} is an empty file (0 bytes): an interrupted copy or download?")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        culprit = next((ln.strip() for ln in str(err).splitlines() if "Unsupported global" in ln), "")
        raise UnsafeCheckpointError(
            f"refusing to load {path}: it contains pickled Python objects other than tensors and plain "
            f"containers, which could run code on load. {culprit}".strip()
        ) from err
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if _is_device_error(first):  # the file is fine; the device asked for is not available
            raise DeviceUnavailableError(f"cannot load {path} onto device {map_location}: {first}") from None
        raise ValueError(f"checkpoint {path} is not a readable torch checkpoint (truncated or another format): "
                         f"{first}") from None
    except (EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError(f"checkpoint {path} is not a readable torch checkpoint (truncated or another format): "
                         f"{str(err).strip() or type(err).__name__}") from None
    if not isinstance(blob, dict) or not str(blob.get("format", "")).startswith("reactkd-checkpoint-"):
        raise ValueError(f"{path} is not a REACTKD checkpoint (expected format {FORMAT!r}).")
    check_format(blob["format"], FORMAT, f"checkpoint {path}", OLDER_CHECKPOINT)
    try:
        metadata = json.loads(blob.get("metadata"))
    except (TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {path}: its metadata is not JSON ({err}).") from None
    if not isinstance(metadata, dict) or not isinstance(blob.get("state"), dict):
        raise ValueError(f"checkpoint {path}: its metadata must be a JSON object and its state a dict of tensors.")
    return blob["state"], metadata


def require_metadata(metadata: dict, keys: tuple[str, ...], path: str | os.PathLike) -> None:
    """Refuse a checkpoint whose metadata lacks any of ``keys``, naming the file and the missing keys.

    Raises:
        ValueError: ``"checkpoint PATH: its metadata lacks ['model_kwargs'] …"``.
    """
    missing = [k for k in keys if k not in metadata]
    if missing:
        raise ValueError(f"checkpoint {path}: its metadata lacks {missing} (written by another tool or version, "
                         f"or edited); has {sorted(metadata)}.")


def _is_device_error(message: str) -> bool:
    text = message.lower()
    return "cuda" in text or "device" in text or "mps" in text
