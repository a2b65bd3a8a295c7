"""A finished prediction into the scene: the outputs of :mod:`REACTKDLib.outputs`, the attention scale
fixed to 0–1, the region map the node table highlights (:mod:`REACTKDLib.topology`), and the model's
provenance on every output, with the synthetic banner in the grade table where the model is synthetic.
"""

from __future__ import annotations

from pathlib import Path

import SimpleITK as sitk

from REACTKDLib.inference import read_prediction
from REACTKDLib.outputs import find_outputs, node_labels, prediction_summary, show_results
from REACTKDLib.provenance import add_model_column, mark_results
from REACTKDLib.topology import fix_attention_scale, region_labels, update_region_map

__all__ = ["import_prediction", "result_summary", "model_label", "mark_table", "grade_table"]


def model_label(model_path: str, card=None) -> str:
    """A short name for the model in tables: its card's name, else its folder (or file) name."""
    if card is not None:
        return card.name
    p = Path(str(model_path))
    return p.parent.parent.parent.name if p.suffix == ".pt" else p.name


def import_prediction(scene, ct_node, inputs, opacity: float = 0.5, model_path: str = "", banner: str = "",
                      card=None) -> dict:
    """Show the run's outputs for ``ct_node``; returns the nodes by role plus ``prediction``,
    ``region_map`` and ``banner``.

    ``inputs``: the :class:`~REACTKDLib.inference.PredictionInputs` the run graded (its masks give the
    regions). Raises FileNotFoundError when the run wrote no outputs.
    """
    prediction, attention = read_prediction(inputs.out)
    out = show_results(scene, ct_node, prediction, attention, opacity)
    fix_attention_scale(out["attention"])
    liver = sitk.ReadImage(str(inputs.liver))
    tumor = sitk.ReadImage(str(inputs.tumor)) if inputs.tumor else None
    labels, _ = region_labels(liver, tumor, prediction["nodes"])
    region_map, _ = update_region_map(scene, ct_node, labels, node_labels(prediction["nodes"]))
    label = model_label(model_path, card)
    add_model_column(out["grades"], label, banner)
    mark_results([out["grades"], out["nodes"], out["graph"], out["attention"], region_map, *out["edges"]],
                 model_path, banner)
    out.update(prediction=prediction, region_map=region_map, banner=banner)
    return out


def result_summary(out: dict) -> str:
    """The panel's line for a result (the banner first when the model is synthetic)."""
    line = prediction_summary(out["prediction"])
    return f"{out['banner']} {line}" if out.get("banner") else line


def mark_table(table_node, status) -> None:
    """A table of grades says which model made it: a ``Model`` column (with the banner where the model is
    synthetic) and the provenance attributes. ``status``: the model's
    :class:`~REACTKDLib.model_picker.ModelStatus`."""
    add_model_column(table_node, model_label(status.path, status.card), status.banner)
    mark_results([table_node], status.path, status.banner)


def grade_table(scene, ct_node):
    """The grade table of the last result for ``ct_node``, or None."""
    found = find_outputs(scene, ct_node, "grades", "vtkMRMLTableNode") if ct_node is not None else []
    return found[0] if found else None
