"""What the REACTKD panel shows, computed without Qt: why Apply is disabled (one line naming the problem
and what to do, most important first), the rows of the region table, and what a new scene's parameter
node is filled with.
"""

from __future__ import annotations

from pathlib import Path

from REACTKDLib.ct_filter import ct_candidates
from REACTKDLib.inference import default_model
from REACTKDLib.outputs import node_labels
from REACTKDLib.segmentation import default_seg_model

__all__ = ["apply_problems", "region_rows", "REGION_COLUMNS", "fill_missing_inputs"]

REGION_COLUMNS = ("Node", "Kind", "Volume (ml)", "Attention")


def apply_problems(ct_node, segmentation_node, liver_id: str, model_status, version_problem: str | None = None
                   ) -> list[str]:
    """Why Apply cannot run yet, most important first (empty: it can). ``model_status`` is a
    :class:`~REACTKDLib.model_picker.ModelStatus`."""
    problems = []
    if version_problem:
        problems.append(version_problem)
    if model_status is not None and not model_status.ok:  # first: the user has just chosen it, or must
        problems.append(model_status.problem)
    if ct_node is None:
        problems.append("Select a CT volume (or load the phantom sample case).")
    if segmentation_node is None:
        problems.append("Select a segmentation with the liver and the tumour(s), or make one with "
                        "'Segment liver and tumours'.")
    elif not liver_id:
        problems.append(f"Select the liver segment of {segmentation_node.GetName()!r}.")
    return problems


def region_rows(prediction: dict) -> list[tuple[str, str, str, str]]:
    """The region table's rows, one per graph node: label, kind, volume, attention (± spread)."""
    nodes = prediction.get("nodes", [])
    rows = []
    for label, n in zip(node_labels(nodes), nodes):
        spread = f" ± {n['attention_std']:.3f}" if "attention_std" in n else ""
        rows.append((label, "liver" if n["kind"] == "liver" else "tumour", f"{float(n['volume_ml']):.2f}",
                     f"{float(n['attention']):.3f}{spread}"))
    return rows


def fill_missing_inputs(parameters, scene) -> None:
    """Fill what the module's parameter node lacks: the first volume the CT selector offers, the first
    segmentation, the default model (``$REACTKD_MODEL`` or the shipped demonstration model) and the
    default segmentation model (``$REACTKD_SEG_MODEL``). A choice already made is kept.

    Args:
        parameters: the parameter node (``ctVolume``, ``segmentation``, ``modelPath``, ``segModelPath``).
        scene: the MRML scene.
    """
    p = parameters
    if not p.ctVolume:
        p.ctVolume = next(iter(ct_candidates(scene)), None)
    if not p.segmentation:
        p.segmentation = scene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
    if str(p.modelPath) in ("", ".") and (found := default_model()):
        p.modelPath = Path(found)
    if str(p.segModelPath) in ("", ".") and (found := default_seg_model()):
        p.segModelPath = Path(found)
