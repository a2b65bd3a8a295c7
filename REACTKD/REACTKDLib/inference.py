"""One prediction from scene nodes: write the inputs, grade them in a separate process (the model's
persistent worker, :mod:`REACTKDLib.worker`, or a one-off ``reactkd predict``), read its outputs back
into the scene.

Inputs are exported from the nodes (not from files the user may have loaded them from) so that edits
made in Slicer count: the CT and PETs as NRRD with their geometry, the liver and tumour segments as
0/1 label maps resampled onto the CT's grid by Slicer's segmentation logic. Tumour segments are merged
into one mask; the core splits it into connected components (one graph node each).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from REACTKDLib import model_picker
from REACTKDLib.commands import MODULE_DIR, child_environment, predict_args, predict_command, resolve_device
from REACTKDLib.geometry import volume_to_sitk
from REACTKDLib.model import model_input_problems, read_model_metadata
from REACTKDLib.process import BackgroundProcess
from REACTKDLib.segments import segments_mask_on_volume

__all__ = ["PredictionInputs", "export_inputs", "start_prediction", "start_grading", "read_prediction",
           "default_model"]

log = logging.getLogger("REACTKD")


@dataclass
class PredictionInputs:
    """Files written for one run, and the command that grades them."""

    folder: Path
    ct: Path
    liver: Path
    tumor: Path | None
    pets: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def out(self) -> Path:
        return self.folder / "out"


def _write(image: sitk.Image, path: Path) -> Path:
    sitk.WriteImage(image, str(path), False)  # uncompressed: writing is faster than the child reading
    return path


def export_inputs(scene, ct_node, segmentation_node, liver_ids: list[str], tumor_ids: list[str], folder,
                  pet_nodes: dict | None = None) -> PredictionInputs:
    """Write CT, PETs and masks for ``reactkd predict`` into ``folder``.

    Raises:
        ValueError: no CT or segmentation, no liver segment chosen, a liver segment empty on the CT's grid
            (the segmentation belongs to another scan), a segment chosen both as liver and tumour.
    """
    if ct_node is None:
        raise ValueError("Select a CT volume.")
    if segmentation_node is None:
        raise ValueError("Select a segmentation with the liver and the tumour(s).")
    if not liver_ids:
        raise ValueError(f"No liver segment selected in {segmentation_node.GetName()!r}: choose the segment that "
                         "holds the liver.")
    both = set(liver_ids) & set(tumor_ids)
    if both:
        raise ValueError(f"Segment(s) {sorted(both)} are selected both as liver and as tumour.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ct = volume_to_sitk(ct_node)
    liver = segments_mask_on_volume(scene, segmentation_node, liver_ids, ct_node)
    if not liver.any():
        raise ValueError(f"The liver segment is empty on the grid of CT {ct_node.GetName()!r}: is the segmentation "
                         "from another scan? (Geometry mismatch.)")
    warnings = []
    tumor_path = None
    if tumor_ids:
        tumor = segments_mask_on_volume(scene, segmentation_node, tumor_ids, ct_node)
        if tumor.any():
            tumor_path = _write(_like(tumor, ct), folder / "tumor.nrrd")
        else:
            warnings.append("The tumour segment(s) are empty on this CT; grading uses the liver alone.")
    else:
        warnings.append("No tumour segment selected; grading uses the liver alone.")
    pets = {}
    for tracer, node in (pet_nodes or {}).items():
        if node is not None:
            pets[tracer] = _write(volume_to_sitk(node), folder / f"pet_{tracer}.nrrd")
    return PredictionInputs(folder, _write(ct, folder / "ct.nrrd"), _write(_like(liver, ct), folder / "liver.nrrd"),
                            tumor_path, pets, warnings)


def _like(mask: np.ndarray, reference: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.CopyInformation(reference)
    return image


def start_prediction(inputs: PredictionInputs, model: str, device: str = "auto", worker=None):
    """Grade the exported files: as a job of ``worker`` (an :class:`~REACTKDLib.worker.InferenceWorker` for
    this model, started on its first job and kept warm) or, without one, as a one-off ``reactkd predict``
    process. Either has the same polling interface (``poll``, ``running``, ``returncode``, ``cancel``)."""
    if worker is not None:
        return worker.submit(predict_args(str(inputs.ct), str(inputs.liver), str(inputs.out),
                                          str(inputs.tumor) if inputs.tumor else None,
                                          {t: str(p) for t, p in inputs.pets.items()}))
    device = resolve_device(device)
    command = predict_command(str(model), str(inputs.ct), str(inputs.liver), str(inputs.out),
                              str(inputs.tumor) if inputs.tumor else None,
                              {t: str(p) for t, p in inputs.pets.items()}, device)
    log.info("REACTKD: %s", " ".join(command))
    return BackgroundProcess(command, env=child_environment(device))


def start_grading(scene, ct_node, segmentation_node, liver_ids: list[str], tumor_ids: list[str], pet_nodes: dict | None,
                  model, folder, device: str = "auto",
                  worker=None) -> tuple[PredictionInputs, BackgroundProcess, list[str]]:
    """Check the model against the inputs, export them into ``folder`` and start grading them (in
    ``worker`` when given, see :func:`start_prediction`).

    ``folder`` may be a function that makes one, called only once the checks pass (no empty folders
    left behind by a refused run). PET volumes a CT-only model would ignore are not exported. Returns
    ``(inputs, process, notes)``.

    Raises:
        ValueError: with a message for the user (no model file, the model does not fit these inputs, bad segments).
    """
    if not model or not Path(model).exists():
        raise ValueError(f"Model not found: {model!r}. Choose a student checkpoint (best.pt) or a run folder.")
    pets = {t: n for t, n in (pet_nodes or {}).items() if n is not None}
    errors, notes = model_input_problems(read_model_metadata(model), list(pets))
    if errors:
        raise ValueError("\n".join(errors))
    if pets and any("ignored" in n for n in notes):
        pets = {}
    folder = folder() if callable(folder) else folder
    inputs = export_inputs(scene, ct_node, segmentation_node, [i for i in liver_ids if i], list(tumor_ids), folder,
                           pets)
    return inputs, start_prediction(inputs, model, device, worker), notes


def read_prediction(out_folder) -> tuple[dict, sitk.Image]:
    """``(prediction.json as a dict, attention image)`` from a finished run's output folder.

    Raises:
        FileNotFoundError: the run did not write its outputs.
    """
    out = Path(out_folder)
    pred, att = out / "prediction.json", out / "attention.nii.gz"
    if not pred.is_file() or not att.is_file():
        raise FileNotFoundError(f"{out}: no prediction.json / attention.nii.gz (did the run finish?).")
    return json.loads(pred.read_text()), sitk.ReadImage(str(att))


def default_model() -> str:
    """The model to pre-fill: ``$REACTKD_MODEL``, else the synthetic demonstration model shipped in the
    module's ``Resources/Models`` when it is there; ``""`` otherwise."""
    env = os.environ.get("REACTKD_MODEL")
    if env:
        return env
    shipped = model_picker.shipped_model_dir(MODULE_DIR)
    return str(shipped) if any(shipped.glob("fold*/student/best.pt")) else ""
