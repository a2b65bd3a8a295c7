"""What a model file expects, checked before a run so a mismatch is explained instead of crashing."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["read_model_metadata", "model_input_problems"]


def read_model_metadata(model) -> dict:
    """The JSON metadata of a student checkpoint (or of a run folder's best student).

    Loads with ``torch.load(weights_only=True)`` (a file that would run code is refused) — needs torch.

    Raises:
        FileNotFoundError: no such file, or a folder without a trained student.
        ValueError: not a REACTKD checkpoint.
    """
    import torch

    path = Path(model)
    if path.is_dir():
        candidates = sorted(path.glob("fold*/student/best.pt"))
        if not candidates:
            raise FileNotFoundError(f"{path} holds no trained student (fold*/student/best.pt).")
        path = candidates[0]
    if not path.is_file():
        raise FileNotFoundError(f"model not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        return json.loads(blob["metadata"])
    except Exception as err:  # noqa: BLE001 - any failure means "not our checkpoint"
        raise ValueError(f"{path} is not a REACTKD checkpoint ({type(err).__name__}: {err}).") from err


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
