"""Segments of a segmentation node: names, the default liver / tumour choice, and masks on the CT grid.

Names follow the core's rules (``reactkd.io.masks``: liver = a name containing "liver" that is not a
tumour name; tumour = a name containing "tumor", "tumour", "lesion", "hcc", …) so the pre-selection in
Slicer agrees with what ``reactkd predict`` picks from a ``.seg.nrrd``. The lists are repeated here, not
imported, because importing ``reactkd`` in Slicer's GUI process would not be needed otherwise; a test
checks they match.
"""

from __future__ import annotations

import numpy as np
import vtk

from REACTKDLib.geometry import array_from_volume

__all__ = ["TUMOR_NAMES", "segment_names", "default_segment_choice", "keep_segment_choice", "carried_segment_choice",
           "segment_ids_by_name", "segments_mask_on_volume", "load_segmentation_file"]

TUMOR_NAMES = ("tumor", "tumour", "lesion", "hcc", "cancer", "neoplasm", "mass")


def segment_names(segmentation_node) -> list[tuple[str, str]]:
    """``[(segment ID, name), …]`` in the segmentation's order."""
    seg = segmentation_node.GetSegmentation()
    return [(seg.GetNthSegmentID(i), seg.GetNthSegment(i).GetName()) for i in range(seg.GetNumberOfSegments())]


def _is_tumor(name: str) -> bool:
    return any(t in name.strip().lower() for t in TUMOR_NAMES)


def default_segment_choice(segments: list[tuple[str, str]]) -> tuple[str | None, list[str]]:
    """Pre-selection by name: ``(liver segment ID or None, [tumour segment IDs])``.

    The liver is the first segment whose name contains "liver" and is not a tumour name ("Liver tumor" is
    a tumour); tumours are every segment with a tumour name.
    """
    liver = next((sid for sid, name in segments if "liver" in name.lower() and not _is_tumor(name)), None)
    tumors = [sid for sid, name in segments if _is_tumor(name)]
    return liver, tumors


def keep_segment_choice(segments: list[tuple[str, str]], liver_id: str, tumor_ids: list[str],
                        previous_ids: list[str] | None = None) -> tuple[str, list[str]]:
    """The liver / tumour choice after the segment list was (re)read: the user's choice is kept wherever
    its segments still exist; the name rules (:func:`default_segment_choice`) only fill what is missing.

    Args:
        segments: ``[(segment ID, name), …]`` now (:func:`segment_names`).
        liver_id, tumor_ids: the current choice (the parameter node's; ``""``/``[]`` when none).
        previous_ids: the segment IDs when the choice was last made, ``None`` when this segmentation is
            seen for the first time (just selected, or the scene was loaded).

    Rules:
        - unchanged segment list: the choice stays exactly as it is (a liver not chosen stays not chosen,
          unchecked tumours stay unchecked, whatever the names say);
        - first look with nothing chosen yet: the choice by name; with a choice (a reloaded scene) it
          is kept as far as its segments exist;
        - otherwise removed segments leave the choice; a missing liver is taken by name when one is
          named like "liver" and not already a tumour; segments *added* since ``previous_ids`` with a tumour
          name are added to the tumours (e.g. "Tumor 3" drawn in the Segment Editor).

    Returns:
        ``(liver ID or "", [tumour IDs])`` in the segmentation's order; the liver is never also a tumour.
    """
    ids = [sid for sid, _ in segments]
    liver_id = liver_id if liver_id in ids else ""
    kept = [t for t in tumor_ids if t in ids and t != liver_id]
    if previous_ids is not None and list(previous_ids) == ids:
        return liver_id, [t for t in ids if t in kept]
    default_liver, default_tumors = default_segment_choice(segments)
    if previous_ids is None and not liver_id and not kept:
        return default_liver or "", default_tumors
    if not liver_id and default_liver and default_liver not in kept:
        liver_id = default_liver
    added = [] if previous_ids is None else [t for t in default_tumors if t not in previous_ids]
    chosen = set(kept) | {t for t in added if t != liver_id}
    return liver_id, [t for t in ids if t in chosen]


def carried_segment_choice(segments: list[tuple[str, str]], segmentation_id: str, liver_id: str,
                           tumor_ids: list[str], seen: tuple) -> tuple[str, list[str], tuple]:
    """:func:`keep_segment_choice` for a panel that remembers what it saw: ``seen`` is ``(segmentation ID,
    its segment IDs)`` when the choice was last made (``(None, None)``: nothing seen yet, e.g. a new
    scene). Choosing another segmentation drops the old choice, which was for that one.

    Returns:
        ``(liver ID or "", [tumour IDs], seen now)``.
    """
    previous = seen[1] if seen[0] == segmentation_id else None
    if seen[0] not in (None, segmentation_id):
        liver_id, tumor_ids = "", []
    liver, tumors = keep_segment_choice(segments, liver_id, list(tumor_ids), previous)
    return liver, tumors, (segmentation_id, [sid for sid, _ in segments])


def segment_ids_by_name(segmentation_node, names: list[str]) -> list[str]:
    """Segment IDs for names (case-insensitive, surrounding spaces ignored).

    Raises:
        ValueError: a name matches no segment; the message lists the segment names.
    """
    pairs = segment_names(segmentation_node)
    out = []
    for wanted in names:
        hits = [sid for sid, name in pairs if name.strip().lower() == wanted.strip().lower()]
        if not hits:
            raise ValueError(f"segmentation {segmentation_node.GetName()!r} has no segment named {wanted!r}; "
                             f"its segments are {[n for _, n in pairs]}.")
        out += hits
    return out


def segments_mask_on_volume(scene, segmentation_node, segment_ids: list[str], reference_volume) -> np.ndarray:
    """Union of segments as a uint8 0/1 array ``(Z, Y, X)`` on ``reference_volume``'s voxel grid.

    Segments are converted to binary labelmaps when needed (e.g. a closed surface) and resampled into the
    reference geometry by Slicer's own segmentation logic, so a segmentation drawn on another grid (or
    only partly overlapping the CT) is handled the way Slicer's Export does. A temporary labelmap node is
    added to ``scene`` and removed.

    Raises:
        ValueError: no segment given, an unknown segment ID, or the export failing.
    """
    import slicer

    if not segment_ids:
        raise ValueError("no segment selected.")
    seg = segmentation_node.GetSegmentation()
    ids = vtk.vtkStringArray()
    for sid in segment_ids:
        if seg.GetSegment(sid) is None:
            raise ValueError(f"segmentation {segmentation_node.GetName()!r} has no segment with ID {sid!r}.")
        ids.InsertNextValue(sid)
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__REACTKD_temp__")
    try:
        ok = slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentation_node, ids, labelmap, reference_volume)
        if not ok or labelmap.GetImageData() is None:
            raise ValueError(f"could not export segments {segment_ids} of {segmentation_node.GetName()!r} "
                             f"onto the grid of {reference_volume.GetName()!r}.")
        dims = labelmap.GetImageData().GetDimensions()
        ref_dims = reference_volume.GetImageData().GetDimensions()
        if tuple(dims) != tuple(ref_dims):  # Export crops to the reference extent; guard anyway
            raise ValueError(f"exported labelmap {dims} does not match the CT grid {ref_dims}.")
        return (array_from_volume(labelmap) != 0).astype(np.uint8)
    finally:
        display = labelmap.GetDisplayNode()
        if display is not None:
            scene.RemoveNode(display)
        scene.RemoveNode(labelmap)


def load_segmentation_file(scene, path: str, name: str | None = None):
    """Read a ``.seg.nrrd`` into a new segmentation node (what Slicer's Add Data does for segmentations).

    Raises:
        ValueError: the file cannot be read as a segmentation.
    """
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name or "Segmentation")
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(path))
    if not storage.ReadData(node):
        scene.RemoveNode(node)
        scene.RemoveNode(storage)
        raise ValueError(f"{path}: not a readable segmentation file.")
    node.SetAndObserveStorageNodeID(storage.GetID())
    return node
