"""Liver and liver-tumour segments for a real CT from the SlicerTotalSegmentator extension, where it is
installed, through that extension's own logic (``TotalSegmentatorLogic.process``), named so that the
grading path picks them up.

TotalSegmentator (Wasserthal et al., Radiology: AI 2023) segments the liver in its ``total`` task
(``--roi_subset liver`` keeps only it) and liver tumours in the ``liver_vessels`` task (classes
``liver_vessels``, ``liver_tumor``) or, in newer releases, the ``liver_lesions`` task (class
``liver_lesions``), which is preferred where the installed extension offers it. Its result nodes are
merged into one segmentation, "<CT> liver and tumours (TotalSegmentator)", with the segments ``liver``
and ``tumor`` (the names :mod:`REACTKDLib.segments` pre-selects); the extension's own nodes are removed.
The shipped ReCo-KD segmentation student learnt from the phantom, so on a patient's CT this is the one
to use.
"""

from __future__ import annotations

from dataclasses import dataclass

from REACTKDLib.outputs import INPUT, ROLE, find_outputs
from REACTKDLib.segments import segment_names

__all__ = ["MODULE_NAME", "TOTALSEG_ROLE", "TotalSegmentatorPlan", "plan_for", "pick_segment",
           "segment_with_totalsegmentator", "result_name", "segment_sources"]

MODULE_NAME = "TotalSegmentator"
TOTALSEG_ROLE = "segmentation-totalsegmentator"


@dataclass(frozen=True)
class TotalSegmentatorPlan:
    """Which TotalSegmentator runs give the liver and the tumours: ``(task, subset, class name)`` each."""

    liver: tuple[str, tuple[str, ...] | None, str] = ("total", ("liver",), "liver")
    tumor: tuple[str, tuple[str, ...] | None, str] = ("liver_vessels", None, "liver_tumor")


def plan_for(tasks) -> TotalSegmentatorPlan:
    """The plan for the installed extension's task list (``logic.tasks``).

    Raises:
        ValueError: the extension offers no task with liver tumours (the message names what it has).
    """
    names = list(tasks)
    if "liver_lesions" in names:
        return TotalSegmentatorPlan(tumor=("liver_lesions", None, "liver_lesions"))
    if "liver_vessels" in names:
        return TotalSegmentatorPlan()
    raise ValueError(f"The installed TotalSegmentator offers no liver tumour task (liver_lesions, liver_vessels); "
                     f"it has {names[:8]}…: update the TotalSegmentator extension.")


def _normal(text: str) -> str:
    return text.strip().lower().replace("_", " ")


def pick_segment(segments: list[tuple[str, str]], class_name: str) -> str | None:
    """The segment ID of a TotalSegmentator class among ``[(ID, name)]``: the ID is the class name, or the
    name is (the extension may rename segments to their terminology labels, e.g. "Liver")."""
    wanted = _normal(class_name)
    for sid, name in segments:
        if _normal(sid) == wanted or _normal(name) == wanted:
            return sid
    return None


def result_name(ct_node) -> str:
    return f"{ct_node.GetName()} liver and tumours (TotalSegmentator)"


def _run(logic, scene, ct_node, task: str, subset, cpu: bool, quality: str):
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"__REACTKD_totalseg_{task}__")
    logic.process(ct_node, node, quality, cpu, task, list(subset) if subset else None)
    return node


def segment_with_totalsegmentator(logic, scene, ct_node, cpu: bool = False, quality: str = "fast"):
    """Run TotalSegmentator twice (liver; tumours) on ``ct_node`` and return the merged segmentation node
    (a previous result for this CT is replaced in place). Blocks while the extension runs (its own
    logic keeps Slicer's event loop turning).

    Raises:
        ValueError: no CT; an extension without a liver tumour task; no liver found on this CT.
        RuntimeError: the extension's own errors pass through with their message.
    """
    if ct_node is None:
        raise ValueError("Select a CT volume to segment.")
    plan = plan_for(getattr(logic, "tasks", {}))
    made = []
    try:
        found = {}
        for key, (task, subset, class_name) in (("liver", plan.liver), ("tumor", plan.tumor)):
            node = _run(logic, scene, ct_node, task, subset, cpu, quality)
            made.append(node)
            found[key] = (node, pick_segment(segment_names(node), class_name))
        if found["liver"][1] is None:
            raise ValueError(f"TotalSegmentator found no liver on {ct_node.GetName()!r}: is it an abdominal CT?")
        previous = find_outputs(scene, ct_node, TOTALSEG_ROLE, "vtkMRMLSegmentationNode")
        target = previous[0] if previous else scene.AddNewNodeByClass("vtkMRMLSegmentationNode", result_name(ct_node))
        target.SetName(result_name(ct_node))
        target.SetAttribute(ROLE, TOTALSEG_ROLE)
        target.SetAttribute(INPUT, ct_node.GetID())
        segmentation = target.GetSegmentation()
        segmentation.RemoveAllSegments()
        target.SetReferenceImageGeometryParameterFromVolumeNode(ct_node)
        for key, (node, sid) in found.items():
            if sid is None:  # no tumour found: the liver alone is graded (a warning says so)
                continue
            if not segmentation.CopySegmentFromSegmentation(node.GetSegmentation(), sid):
                raise RuntimeError(f"Could not copy TotalSegmentator's {sid!r} segment; see the log.")
            segmentation.GetSegment(sid).SetName(key)
        if target.GetDisplayNode() is None:
            target.CreateDefaultDisplayNodes()
        return target
    finally:
        for node in made:
            scene.RemoveNode(node)


def segment_sources(totalsegmentator_installed: bool) -> list[tuple[str, str]]:
    """``[(key, label)]`` of the segmentation tools the panel offers: TotalSegmentator first where that
    extension is installed (the one for a patient's CT), the ReCo-KD model always."""
    sources = [("reactkd", "ReCo-KD model (reactkd seg-distill)")]
    if totalsegmentator_installed:
        sources.insert(0, ("totalsegmentator", "TotalSegmentator (liver, liver tumours)"))
    return sources
