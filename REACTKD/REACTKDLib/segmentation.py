"""Automatic liver and tumour segmentation from the scene: export the CT, run ``reactkd segment`` in a
separate process (the same machinery as grading), load its ``segmentation.seg.nrrd`` back as a
segmentation node that Apply can grade right away.

The result node is named after the CT ("<CT> liver and tumours"), carries the output attributes of
:mod:`REACTKDLib.outputs` (role ``segmentation``) so that re-running on the same CT replaces its segments
instead of adding another node, and sits beside the CT (under its study) in the subject hierarchy, where
a segmentation of that scan belongs.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import SimpleITK as sitk

from REACTKDLib.commands import child_environment, resolve_device, segment_command
from REACTKDLib.geometry import volume_to_sitk
from REACTKDLib.outputs import INPUT, ROLE, find_outputs
from REACTKDLib.process import BackgroundProcess
from REACTKDLib.segments import default_segment_choice, load_segmentation_file, segment_names

__all__ = ["SEGMENTATION_ROLE", "SEGMENT_NAMES", "SegmentationJob", "default_seg_model", "offers_segmentation",
           "segment_problems", "start_segmentation", "load_segmentation_result", "parse_segment_progress",
           "segmentation_name"]

log = logging.getLogger("REACTKD")

SEGMENTATION_ROLE = "segmentation"
SEGMENT_NAMES = ("liver", "tumor")
"""Segment names ``reactkd segment`` writes (``reactkd.segment.writer``); the liver includes its tumours."""


@dataclass
class SegmentationJob:
    """Files of one segmentation run: the exported CT and the output folder ``reactkd segment`` fills."""

    folder: Path
    ct: Path

    @property
    def out(self) -> Path:
        return self.folder / "out"

    @property
    def seg_nrrd(self) -> Path:
        return self.out / "segmentation.seg.nrrd"


def default_seg_model() -> str:
    """The segmentation model to pre-fill: ``$REACTKD_SEG_MODEL``; ``""`` without it (no segmentation
    model ships with the extension: TotalSegmentator, where installed, segments a patient's CT)."""
    return os.environ.get("REACTKD_SEG_MODEL", "")


def offers_segmentation(segmentation_node) -> bool:
    """Whether "Segment liver and tumours" applies: no segmentation chosen, one without liver and tumour
    segments (by the same name rules as the pre-selection), or REACTKD's own result (to re-run it)."""
    if segmentation_node is None:
        return True
    if segmentation_node.GetAttribute(ROLE) == SEGMENTATION_ROLE:
        return True
    liver, tumors = default_segment_choice(segment_names(segmentation_node))
    return liver is None and not tumors


def segment_problems(ct_node, segmentation_node, source: str, seg_model: str) -> list[str]:
    """Why "Segment liver and tumours" cannot run yet (empty: it can). ``source``: ``"reactkd"`` (a ReCo-KD
    model, which must be chosen) or ``"totalsegmentator"``."""
    problems = [] if ct_node else ["Select a CT volume."]
    if source == "reactkd" and (not seg_model or seg_model == "."):
        problems.append("Select a segmentation model (a `reactkd seg-distill` run folder or checkpoint).")
    if segmentation_node and not offers_segmentation(segmentation_node):
        problems.append("The selected segmentation already has liver/tumour segments; choose none to segment anew.")
    return problems


def segmentation_name(ct_node) -> str:
    return f"{ct_node.GetName()} liver and tumours"


def start_segmentation(ct_node, model: str, folder, device: str = "auto") -> tuple[SegmentationJob, BackgroundProcess]:
    """Export ``ct_node`` (as NRRD, with its geometry and any edits) into ``folder`` and launch
    ``reactkd segment`` on it; poll the returned process, then :func:`load_segmentation_result`.

    Raises:
        ValueError: no CT, or no model at ``model`` (the message says what to choose).
    """
    if ct_node is None:
        raise ValueError("Select a CT volume to segment.")
    if not model or not Path(model).exists():
        raise ValueError(f"Segmentation model not found: {model!r}. Choose a `reactkd seg-distill` run folder or a "
                         "seg checkpoint (best.pt), or set REACTKD_SEG_MODEL.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    job = SegmentationJob(folder, folder / "ct.nrrd")
    sitk.WriteImage(volume_to_sitk(ct_node), str(job.ct), False)  # uncompressed: faster than the child reads
    device = resolve_device(device)
    command = segment_command(str(model), str(job.ct), str(job.out), device)
    log.info("REACTKD: %s", " ".join(command))
    return job, BackgroundProcess(command, env=child_environment(device))


def load_segmentation_result(scene, ct_node, seg_nrrd):
    """Load ``seg_nrrd`` (written by ``reactkd segment``) as the CT's REACTKD segmentation node.

    A previous result for the same CT is updated in place (same node, so selections that point at it stay
    valid); otherwise a new node is made. Either way it is named after the CT, references the CT's geometry
    and sits under the CT's parent (its study) in the subject hierarchy.

    Raises:
        FileNotFoundError: the run wrote no segmentation.
        ValueError: the file lacks the ``liver``/``tumor`` segments (not written by ``reactkd segment``).
    """
    path = Path(seg_nrrd)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no segmentation written (did `reactkd segment` finish?).")
    loaded = load_segmentation_file(scene, str(path), segmentation_name(ct_node))
    names = [name for _, name in segment_names(loaded)]
    if sorted(names) != sorted(SEGMENT_NAMES):
        _remove(scene, loaded)
        raise ValueError(f"{path} has segments {names}, expected {list(SEGMENT_NAMES)}.")
    previous = find_outputs(scene, ct_node, SEGMENTATION_ROLE, "vtkMRMLSegmentationNode")
    if previous:
        _remove(scene, loaded)  # checked; now read the same file into the existing node instead
        node = previous[0]
        storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
        storage.SetFileName(str(path))
        ok = storage.ReadData(node)  # replaces the node's segments with the file's
        scene.RemoveNode(storage)
        if not ok:
            raise ValueError(f"{path}: not a readable segmentation file.")
        node.SetName(segmentation_name(ct_node))
    else:
        node = loaded
        storage = node.GetStorageNode()
        node.SetAndObserveStorageNodeID(None)  # the file lives in a temporary folder that is deleted
        if storage is not None:
            scene.RemoveNode(storage)
        node.SetAttribute(ROLE, SEGMENTATION_ROLE)
        node.SetAttribute(INPUT, ct_node.GetID())
    node.SetReferenceImageGeometryParameterFromVolumeNode(ct_node)
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    _beside_ct(scene, ct_node, node)
    return node


def _remove(scene, node) -> None:
    storage = node.GetStorageNode()
    scene.RemoveNode(node)
    if storage is not None:
        scene.RemoveNode(storage)


def _beside_ct(scene, ct_node, node) -> None:
    sh = scene.GetSubjectHierarchyNode()

    def item(n):
        found = sh.GetItemByDataNode(n)
        # without Slicer's subject-hierarchy logic (slicer-core) nodes get no item by themselves
        return found or sh.CreateItem(sh.GetSceneItemID(), n)

    parent = sh.GetItemParent(item(ct_node)) or sh.GetSceneItemID()
    sh.SetItemParent(item(node), parent)


_PROGRESS = re.compile(r"(\d+)/(\d+) \[")


def parse_segment_progress(line: str) -> float | None:
    """Fraction done from a line of ``reactkd segment`` output (the sliding-window progress bar
    "… 12/64 [00:03<…"), or ``None``."""
    m = _PROGRESS.search(line)
    if not m or int(m[2]) == 0:
        return None
    return min(int(m[1]) / int(m[2]), 1.0)
