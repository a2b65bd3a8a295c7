"""Checks of command-line values, run before any work starts: numbers, output paths, devices.

Each check raises ``ValueError`` with one line naming the option and the problem; :func:`reactkd.cli.main`
prints it without a traceback. Commands call them first thing in ``run``.
Not a subcommand: it has no ``register``, so :func:`reactkd.cli.build_parser` skips it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

__all__ = ["finite_number", "output_folder", "output_image", "inference_device", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
"""Output image formats SimpleITK writes without a plugin (NIfTI, NRRD, MetaImage)."""


def finite_number(value: float | None, flag: str, minimum: float | None = None, *,
                  inclusive: bool = True) -> float | None:
    """``value`` if it is a finite number (never nan/inf), optionally ``>= minimum`` (``> minimum`` when
    not ``inclusive``); None passes (an option left unset). ``float("nan")`` passes every ``<`` test, so
    it is named explicitly.

    Raises:
        ValueError: ``"`--flag` must be a finite number, got nan."``
    """
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"`{flag}` must be a finite number, got {value}.")
    if minimum is not None and (value < minimum or (not inclusive and value == minimum)):
        raise ValueError(f"`{flag}` must be {'>=' if inclusive else '>'} {minimum:g}, got {value:g}.")
    return value


def output_folder(path: str | os.PathLike, flag: str = "--out") -> Path:
    """A folder to write into: new or an existing folder, never an existing file; its nearest existing
    parent must be writable.

    Raises:
        ValueError: naming ``flag`` and the path.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"`{flag}` {path} is an existing file, not a folder; choose a folder (nothing was written).")
    _require_writable(path, flag)
    return path


def output_image(path: str | os.PathLike, flag: str = "--out") -> Path:
    """An image file to write: a known extension (:data:`IMAGE_EXTENSIONS`), not a folder, in a folder
    that exists and is writable.

    Raises:
        ValueError: naming ``flag``, the path and the known extensions.
    """
    path = Path(path)
    if not path.name.lower().endswith(IMAGE_EXTENSIONS):
        raise ValueError(f"`{flag}` {path}: no image writer knows the extension "
                         f"{''.join(path.suffixes) or '(none)'!r}; "
                         f"use one of {list(IMAGE_EXTENSIONS)}.")
    if path.is_dir():
        raise ValueError(f"`{flag}` {path} is a folder; give an image file name.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"`{flag}` folder does not exist: {path.parent}")
    _require_writable(path, flag)
    return path


def _require_writable(path: Path, flag: str) -> None:
    existing = next((p for p in [path, *path.parents] if p.exists()), None)
    if existing is not None and not os.access(existing if existing.is_dir() else existing.parent, os.W_OK):
        raise ValueError(f"`{flag}` {path}: {existing} is not writable.")


def inference_device(text: str, flag: str = "--device") -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` that this machine has, checked before any model is loaded, so a
    device problem is reported as one (not as a bad checkpoint)."""

    try:
        device = torch.device(text)
    except (RuntimeError, TypeError):
        raise ValueError(f"`{flag}` must be cpu, cuda or cuda:N, got {text!r}.") from None
    if device.type == "cpu":
        return text
    if device.type != "cuda":
        raise ValueError(f"`{flag}` must be cpu, cuda or cuda:N, got {text!r}.")
    if not torch.cuda.is_available():
        raise ValueError(f"`{flag}` {text}: torch sees no CUDA device on this machine (CPU build or no GPU); "
                         "use --device cpu.")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"`{flag}` {text}: this machine has {torch.cuda.device_count()} CUDA device(s) "
                         f"(cuda:0…cuda:{torch.cuda.device_count() - 1}).")
    return text
