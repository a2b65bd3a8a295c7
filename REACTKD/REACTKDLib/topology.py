"""Inspecting a topology map in the scene: each region-graph node's region as a label map that can be
highlighted, slice views jumping to a node's centroid, edges shown or hidden, the attention colour scale
fixed to 0–1, and a layout with a table view for the result tables.

The regions are rebuilt on the CT's grid from the exported liver and tumour masks: tumour components
(26-connected, as the core's preprocessing labels them) are matched to the prediction's tumour nodes by
nearest centroid, so a component the core dropped (below its minimum volume) is left out, as it is from
the graph. The liver region is the liver without its tumours.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from REACTKDLib.geometry import lps_to_ras, update_volume_from_sitk
from REACTKDLib.outputs import INPUT, ROLE, find_outputs, node_labels, nodes_by_class, output_node

__all__ = ["ATTENTION_RANGE", "HIGHLIGHT_COLOR", "fix_attention_scale", "region_labels", "update_region_map",
           "highlight_region", "jump_slices", "node_details", "focus_region", "set_edges_visible", "show_table_layout",
           "REGION_MAP_ROLE", "REGION_COLORS_ROLE"]

ATTENTION_RANGE = (0.0, 1.0)
"""Node attentions sum to 1 over a case's nodes: a fixed 0–1 scale makes colours comparable across cases."""
HIGHLIGHT_COLOR = (0.2, 0.9, 1.0)
REGION_MAP_ROLE, REGION_COLORS_ROLE = "regions-map", "regions-colors"


def fix_attention_scale(attention_node) -> None:
    """Window the attention volume over :data:`ATTENTION_RANGE` (its legend follows), zero transparent."""
    display = attention_node.GetDisplayNode()
    if display is None:
        attention_node.CreateDefaultDisplayNodes()
        display = attention_node.GetDisplayNode()
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(*ATTENTION_RANGE)
    display.SetThreshold(1e-6, 1e6)
    display.ApplyThresholdOn()


def region_labels(liver: sitk.Image, tumor: sitk.Image | None, nodes: list[dict]) -> tuple[sitk.Image, list[int]]:
    """A label map on the masks' grid with one label per prediction node, and each node's label (0: no region).

    Args:
        liver, tumor: 0/1 masks on the CT grid (the files exported for the prediction).
        nodes: the prediction's ``nodes`` (``kind``, ``centroid_lps_mm``), liver first.

    Returns:
        ``(labels, per_node)``: ``labels`` is UInt16, node ``i``'s region has value ``i + 1``.
    """
    liver_arr = sitk.GetArrayFromImage(liver) > 0
    tumor_arr = sitk.GetArrayFromImage(tumor) > 0 if tumor is not None else np.zeros_like(liver_arr)
    out = np.zeros(liver_arr.shape, np.uint16)
    per_node = [0] * len(nodes)
    for i, node in enumerate(nodes):
        if node["kind"] == "liver":
            out[liver_arr & ~tumor_arr] = i + 1
            per_node[i] = i + 1
    tumour_nodes = [i for i, n in enumerate(nodes) if n["kind"] != "liver"]
    if tumour_nodes and tumor_arr.any():
        components = sitk.ConnectedComponent(sitk.Cast(tumor, sitk.sitkUInt8) > 0, True)
        stats = sitk.LabelShapeStatisticsImageFilter()
        stats.Execute(components)
        centroids = {c: np.asarray(stats.GetCentroid(c)) for c in stats.GetLabels()}
        comp = sitk.GetArrayFromImage(components)
        pairs = sorted((float(np.linalg.norm(centroids[c] - np.asarray(nodes[i]["centroid_lps_mm"], float))), i, c)
                       for i in tumour_nodes for c in centroids)
        used_nodes, used_components = set(), set()
        for _, i, c in pairs:  # greedy nearest centroids, each node and component once
            if i in used_nodes or c in used_components:
                continue
            used_nodes.add(i)
            used_components.add(c)
            out[comp == c] = i + 1
            per_node[i] = i + 1
    labels = sitk.GetImageFromArray(out)
    labels.CopyInformation(liver)
    return labels, per_node


def update_region_map(scene, ct_node, labels: sitk.Image, names: list[str]):
    """The region label map of ``ct_node``'s result (replaced on a re-run) and its colour table, every
    region transparent until :func:`highlight_region`. Returns ``(label map node, colour node)``."""
    volume = output_node(scene, ct_node, REGION_MAP_ROLE, "vtkMRMLLabelMapVolumeNode",
                         f"REACTKD region map ({ct_node.GetName()})")
    update_volume_from_sitk(volume, labels)
    colors = output_node(scene, ct_node, REGION_COLORS_ROLE, "vtkMRMLColorTableNode",
                         f"REACTKD regions ({ct_node.GetName()})")
    colors.SetTypeToUser()
    colors.SetNumberOfColors(len(names) + 1)
    colors.SetColor(0, "background", 0.0, 0.0, 0.0, 0.0)
    for i, name in enumerate(names, start=1):
        colors.SetColor(i, name, *HIGHLIGHT_COLOR, 0.0)
    colors.SetAttribute("Category", "REACTKD")
    if volume.GetDisplayNode() is None:
        volume.CreateDefaultDisplayNodes()
    volume.GetDisplayNode().SetAndObserveColorNodeID(colors.GetID())
    return volume, colors


def highlight_region(scene, ct_node, index: int | None) -> bool:
    """Show only node ``index``'s region (``None``: none) as an outlined label layer in every slice view.
    Returns False when ``ct_node`` has no region map."""
    maps = find_outputs(scene, ct_node, REGION_MAP_ROLE, "vtkMRMLLabelMapVolumeNode")
    colors = find_outputs(scene, ct_node, REGION_COLORS_ROLE, "vtkMRMLColorTableNode")
    if not maps or not colors:
        return False
    table = colors[0]
    for label in range(1, table.GetNumberOfColors()):
        alpha = 1.0 if index is not None and label == index + 1 else 0.0
        table.SetColor(label, *HIGHLIGHT_COLOR, alpha)
    for composite in nodes_by_class(scene, "vtkMRMLSliceCompositeNode"):
        composite.SetLabelVolumeID(maps[0].GetID())
        composite.SetLabelOpacity(1.0)
    for slice_node in nodes_by_class(scene, "vtkMRMLSliceNode"):
        slice_node.SetUseLabelOutline(True)
    return True


def jump_slices(scene, ras) -> int:
    """Centre every slice view on the RAS point; returns the number of views moved."""
    views = nodes_by_class(scene, "vtkMRMLSliceNode")
    for view in views:
        view.JumpSliceByCentering(*[float(v) for v in ras])
    return len(views)


def node_details(nodes: list[dict], index: int) -> str:
    """One line about node ``index``: its label, kind, volume and attention (± its spread over the fold models)."""
    node, label = nodes[index], node_labels(nodes)[index]
    spread = f" ± {node['attention_std']:.3f}" if "attention_std" in node else ""
    kind = "liver" if node["kind"] == "liver" else "tumour"
    return f"{label}: {kind}, {float(node['volume_ml']):.2f} ml, attention {float(node['attention']):.3f}{spread}"


def focus_region(scene, ct_node, prediction: dict, index: int) -> str:
    """Centre the slice views on node ``index``'s centroid and outline its region; returns its line
    (:func:`node_details`)."""
    jump_slices(scene, lps_to_ras(prediction["nodes"][index]["centroid_lps_mm"]))
    highlight_region(scene, ct_node, index)
    return node_details(prediction["nodes"], index)


def set_edges_visible(scene, ct_node, visible: bool) -> int:
    """Show or hide the region graph's edge lines of ``ct_node``'s result; returns how many."""
    lines = [n for n in nodes_by_class(scene, "vtkMRMLMarkupsLineNode")
             if n.GetAttribute(ROLE) == "edge" and n.GetAttribute(INPUT) == ct_node.GetID()]
    for line in lines:
        display = line.GetDisplayNode()
        if display is not None:
            display.SetVisibility(bool(visible))
    return len(lines)


def show_table_layout(scene, table_node) -> None:
    """Switch to the four-up layout with a table view and show ``table_node`` in it."""
    import slicer

    layouts = nodes_by_class(scene, "vtkMRMLLayoutNode")
    layout = layouts[0] if layouts else scene.AddNode(slicer.vtkMRMLLayoutNode())
    layout.SetViewArrangement(slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView)
    views = nodes_by_class(scene, "vtkMRMLTableViewNode")
    for view in views:
        view.SetTableNodeID(table_node.GetID())
