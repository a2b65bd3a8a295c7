"""Result nodes in the scene: grade table, region-graph table, graph markups, attention overlay.

Every output node carries two attributes, ``REACTKD.Role`` and ``REACTKD.InputVolume`` (the CT node's
ID), so that re-running on the same CT updates the same nodes instead of adding new ones. All outputs
go into one subject-hierarchy folder, "REACTKD results", beside the CT (under its study when it has
one).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import vtk

from REACTKDLib.geometry import lps_to_ras, update_volume_from_sitk

__all__ = ["ROLE", "INPUT", "FOLDER_NAME", "nodes_by_class", "find_outputs", "output_node", "remove_output",
           "results_folder",
           "inferno_color_node", "update_grade_table", "update_node_table", "update_graph_markups",
           "update_attention_volume", "show_overlay", "show_results", "set_overlay_opacity", "node_labels",
           "prediction_summary", "grade_notes"]

ROLE, INPUT = "REACTKD.Role", "REACTKD.InputVolume"
FOLDER_NAME = "REACTKD results"

# Inferno (matplotlib; Smith & van der Walt, CC0) sampled at 17 evenly spaced points, used only where
# Slicer's own "Inferno" colour table and matplotlib are both unavailable.
_INFERNO_ANCHORS = np.array([
    (0.0015, 0.0005, 0.0139), (0.0423, 0.0281, 0.1411), (0.1293, 0.0473, 0.2908), (0.2383, 0.0366, 0.3964),
    (0.3415, 0.0623, 0.4294), (0.4412, 0.0993, 0.4316), (0.5409, 0.1347, 0.4151), (0.6401, 0.1714, 0.3811),
    (0.7357, 0.2159, 0.3302), (0.8224, 0.2752, 0.2661), (0.8943, 0.3534, 0.1936), (0.947, 0.4492, 0.1153),
    (0.9784, 0.5579, 0.0349), (0.9879, 0.6753, 0.0653), (0.9746, 0.7977, 0.2063), (0.9476, 0.9174, 0.4107),
    (0.9884, 0.9984, 0.6449)])


def nodes_by_class(scene, class_name: str) -> list:
    """The scene's nodes of ``class_name`` (subclasses included), read one by one.

    ``scene.GetNodesByClass`` returns a new ``vtkCollection`` that its caller owns: from Python it must be
    ``UnRegister``-ed, else the collection and every node in it (with its image data) outlive the scene's
    ``Clear``. Counting and indexing leaves nothing to release."""
    return [scene.GetNthNodeByClass(i, class_name) for i in range(scene.GetNumberOfNodesByClass(class_name))]


def find_outputs(scene, ct_node, role: str, class_name: str = "vtkMRMLNode") -> list:
    """Nodes of ``class_name`` made for ``ct_node`` with ``role``."""
    return [node for node in nodes_by_class(scene, class_name)
            if node.GetAttribute(ROLE) == role and node.GetAttribute(INPUT) == ct_node.GetID()]


def output_node(scene, ct_node, role: str, class_name: str, name: str):
    """The existing output node for (``ct_node``, ``role``), or a new one; renamed to ``name``."""
    found = find_outputs(scene, ct_node, role, class_name)
    node = found[0] if found else scene.AddNewNodeByClass(class_name, name)
    node.SetName(name)
    node.SetAttribute(ROLE, role)
    node.SetAttribute(INPUT, ct_node.GetID())
    return node


def remove_output(scene, node) -> None:
    """Remove an output node with its display and storage nodes and its subject-hierarchy item.

    Slicer's subject-hierarchy logic drops the item of a removed node, but ``scene.RemoveNode`` alone
    (slicer-core, scripts) leaves the display nodes and a stale item behind, one set per re-run."""
    sh = scene.GetSubjectHierarchyNode()
    item = sh.GetItemByDataNode(node) if sh is not None else 0
    if item:
        sh.RemoveItem(item, False, False)
    extras = [node.GetNthDisplayNode(i) for i in range(node.GetNumberOfDisplayNodes())] if node.IsA(
        "vtkMRMLDisplayableNode") else []
    if node.IsA("vtkMRMLStorableNode") and node.GetStorageNode() is not None:
        extras.append(node.GetStorageNode())
    scene.RemoveNode(node)
    for extra in extras:
        if extra is not None and extra.GetScene() is scene:
            scene.RemoveNode(extra)


def _sh_item(sh, node) -> int:
    item = sh.GetItemByDataNode(node)
    if not item:  # without Slicer's subject-hierarchy logic (slicer-core) nodes get no item by themselves
        item = sh.CreateItem(sh.GetSceneItemID(), node)
    return item


def results_folder(scene, ct_node) -> int:
    """Subject-hierarchy folder item for ``ct_node``'s results, beside the CT (created once)."""
    sh = scene.GetSubjectHierarchyNode()
    parent = sh.GetItemParent(_sh_item(sh, ct_node)) or sh.GetSceneItemID()
    children = vtk.vtkIdList()
    sh.GetItemChildren(parent, children)
    for i in range(children.GetNumberOfIds()):
        item = children.GetId(i)
        if sh.GetItemAttribute(item, INPUT) == ct_node.GetID() and sh.GetItemAttribute(item, ROLE) == "folder":
            return item
    folder = sh.CreateFolderItem(parent, f"{FOLDER_NAME} ({ct_node.GetName()})")
    sh.SetItemAttribute(folder, ROLE, "folder")
    sh.SetItemAttribute(folder, INPUT, ct_node.GetID())
    return folder


def _into_folder(scene, ct_node, *nodes) -> None:
    sh = scene.GetSubjectHierarchyNode()
    folder = results_folder(scene, ct_node)
    for node in nodes:
        sh.SetItemParent(_sh_item(sh, node), folder)


def inferno_color_node(scene):
    """A perceptually uniform colour table: Slicer's built-in "Inferno", else one made once (256 colours)."""
    builtin = scene.GetFirstNodeByName("Inferno")
    if builtin is not None and builtin.IsA("vtkMRMLColorNode"):
        return builtin
    node = scene.GetFirstNodeByName("REACTKD Inferno")
    if node is not None:
        return node
    try:
        import matplotlib

        rgb = np.asarray(matplotlib.colormaps["inferno"](np.linspace(0, 1, 256)))[:, :3]
    except ImportError:
        t = np.linspace(0, 1, 256)
        x = np.linspace(0, 1, len(_INFERNO_ANCHORS))
        rgb = np.stack([np.interp(t, x, _INFERNO_ANCHORS[:, c]) for c in range(3)], 1)
    node = scene.AddNewNodeByClass("vtkMRMLColorTableNode", "REACTKD Inferno")
    node.SetTypeToUser()
    node.SetNumberOfColors(256)
    for i, (r, g, b) in enumerate(rgb):
        node.SetColor(i, f"{i}", float(r), float(g), float(b), 1.0)
    node.SetAttribute("Category", "REACTKD")
    return node


def _set_columns(table_node, columns: list[tuple[str, list]]) -> None:
    """Replace a table's contents; a column of numbers is a double column, anything else strings."""
    table = table_node.GetTable()
    while table.GetNumberOfColumns():
        table.RemoveColumn(0)
    for name, values in columns:
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        array = vtk.vtkDoubleArray() if numeric else vtk.vtkStringArray()
        array.SetName(name)
        for v in values:
            array.InsertNextValue(float(v) if numeric else str(v))
        table.AddColumn(array)
    table.Modified()
    table_node.Modified()


def grade_notes(prediction: dict) -> list[str]:
    """What the grade table's ``Note`` column says, one line per row (grade rows 1-3): how much the
    models agree, whether the probabilities are calibrated, and whether the inputs look like the
    training cases (``domain_warnings``). Empty strings where a prediction carries no such field."""
    u = prediction.get("uncertainty")
    warnings = prediction.get("domain_warnings")
    notes = ["", "", ""]
    if u:
        agree = round(u["agreement"] * u["members"])
        notes[0] = (f"{agree} of {u['members']} models agree; entropy {u['entropy']:.2f} (0 sure, 1 uniform)"
                    if u["members"] > 1 else "one model: no spread")
        notes[1] = "calibrated (temperature scaling per fold)" if u["calibrated"] else "not calibrated"
    if warnings is not None:
        notes[2] = "OUTSIDE TRAINING: " + " ".join(warnings) if warnings else "inputs like the training cases"
    return notes


def update_grade_table(scene, ct_node, prediction: dict):
    """Table ``Grade | Probability | ± SD | Predicted | Note`` (three rows) and attributes
    ``REACTKD.PredictedGrade``, ``REACTKD.Modalities``, ``REACTKD.DomainWarnings``.

    ``± SD``: the spread (standard deviation) of the fold models' probabilities, 0 for one model;
    ``Note``: see :func:`grade_notes`."""
    node = output_node(scene, ct_node, "grades", "vtkMRMLTableNode", f"REACTKD grade ({ct_node.GetName()})")
    probs = prediction["probabilities"]
    grades = sorted(probs, key=int)
    spread = prediction.get("uncertainty", {}).get("probability_std", {})
    _set_columns(node, [("Grade", [f"G{g}" for g in grades]),
                        ("Probability", [float(probs[g]) for g in grades]),
                        ("± SD", [float(spread.get(g, 0.0)) for g in grades]),
                        ("Predicted", ["yes" if int(g) == int(prediction["grade"]) else "" for g in grades]),
                        ("Note", grade_notes(prediction))])
    node.SetAttribute("REACTKD.PredictedGrade", str(int(prediction["grade"])))
    node.SetAttribute("REACTKD.Modalities", ",".join(["ct", *prediction.get("modalities", {}).get("pet", [])]))
    node.SetAttribute("REACTKD.DomainWarnings", " | ".join(prediction.get("domain_warnings", [])))
    node.SetLocked(True)  # results, not a spreadsheet to edit
    _into_folder(scene, ct_node, node)
    return node


def node_labels(nodes: list[dict]) -> list[str]:
    """``["liver", "tumour 1", "tumour 2", …]`` in the prediction's node order."""
    labels, k = [], 0
    for n in nodes:
        if n["kind"] == "liver":
            labels.append("liver")
        else:
            k += 1
            labels.append(f"tumour {k}")
    return labels


def update_node_table(scene, ct_node, prediction: dict):
    """Table of region-graph nodes: ``Node | Kind | Volume (ml) | Attention | R | A | S`` (centroid, mm)."""
    node = output_node(scene, ct_node, "nodes", "vtkMRMLTableNode", f"REACTKD regions ({ct_node.GetName()})")
    nodes = prediction["nodes"]
    ras = [lps_to_ras(n["centroid_lps_mm"]) for n in nodes]
    _set_columns(node, [("Node", node_labels(nodes)), ("Kind", [n["kind"] for n in nodes]),
                        ("Volume (ml)", [float(n["volume_ml"]) for n in nodes]),
                        ("Attention", [float(n["attention"]) for n in nodes]),
                        ("R", [p[0] for p in ras]), ("A", [p[1] for p in ras]), ("S", [p[2] for p in ras])])
    node.SetLocked(True)
    _into_folder(scene, ct_node, node)
    return node


def update_graph_markups(scene, ct_node, prediction: dict, color_node=None) -> tuple:
    """The region graph in 3D: one locked point per node at its centroid (RAS), labelled with its
    attention, and one line per edge whose diameter and opacity grow with the nodes' feature similarity.

    Returns:
        ``(points node, [line nodes])``. Lines of a previous run for this CT are removed first (the
        number of edges changes with the number of tumours).
    """
    points = output_node(scene, ct_node, "graph", "vtkMRMLMarkupsFiducialNode",
                         f"REACTKD graph ({ct_node.GetName()})")
    points.RemoveAllControlPoints()
    nodes = prediction["nodes"]
    labels = node_labels(nodes)
    ras = [lps_to_ras(n["centroid_lps_mm"]) for n in nodes]
    for label, n, p in zip(labels, nodes, ras):
        index = points.AddControlPoint(vtk.vtkVector3d(*p), f"{label} {n['attention']:.2f}")
        points.SetNthControlPointDescription(
            index, f"{n['kind']}, {n['volume_ml']:.2f} ml, attention {n['attention']:.3f}")
        points.SetNthControlPointLocked(index, True)
    points.SetLocked(True)
    if points.GetDisplayNode() is None:
        points.CreateDefaultDisplayNodes()
    display = points.GetDisplayNode()
    display.SetSelectedColor(0.2, 0.9, 1.0)
    display.SetGlyphScale(2.5)
    display.SetTextScale(3.0)
    display.SetVisibility(True)
    for old in find_outputs(scene, ct_node, "edge", "vtkMRMLMarkupsLineNode"):
        remove_output(scene, old)
    lines = []
    for edge in prediction.get("edges", []):
        i, j, sim = int(edge["i"]), int(edge["j"]), float(edge["similarity"])
        weight = min(max(sim, 0.0), 1.0)
        line = scene.AddNewNodeByClass("vtkMRMLMarkupsLineNode", f"{labels[i]} – {labels[j]} ({sim:.2f})")
        line.SetAttribute(ROLE, "edge")
        line.SetAttribute(INPUT, ct_node.GetID())
        line.SetAttribute("REACTKD.Similarity", f"{sim:.6f}")
        line.AddControlPoint(vtk.vtkVector3d(*ras[i]))
        line.AddControlPoint(vtk.vtkVector3d(*ras[j]))
        line.SetLocked(True)
        for k in range(line.GetNumberOfMeasurements()):
            line.GetNthMeasurement(k).SetEnabled(False)  # a length label on every edge is noise
        line.CreateDefaultDisplayNodes()
        ld = line.GetDisplayNode()
        ld.SetPropertiesLabelVisibility(False)
        ld.SetPointLabelsVisibility(False)
        ld.SetGlyphScale(0.5)
        ld.SetCurveLineSizeMode(ld.UseLineDiameter)
        ld.SetLineDiameter(0.5 + 3.5 * weight)
        ld.SetOpacity(0.25 + 0.75 * weight)
        ld.SetSelectedColor(0.6, 0.9, 1.0)
        lines.append(line)
    _into_folder(scene, ct_node, points, *lines)
    return points, lines


def update_attention_volume(scene, ct_node, attention: sitk.Image, color_node=None):
    """The attention map as a scalar volume (Inferno, window 0…max, zero voxels transparent) with a
    colour legend."""
    node = output_node(scene, ct_node, "attention", "vtkMRMLScalarVolumeNode",
                       f"REACTKD attention ({ct_node.GetName()})")
    update_volume_from_sitk(node, sitk.Cast(attention, sitk.sitkFloat32))
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    color_node = color_node or inferno_color_node(scene)
    display.SetAndObserveColorNodeID(color_node.GetID())
    top = float(sitk.GetArrayViewFromImage(attention).max()) or 1.0
    display.AutoWindowLevelOff()
    display.SetWindowLevelMinMax(0.0, top)
    # Voxels outside the liver/tumours are 0: below the threshold they are transparent in slice views,
    # so the CT stays visible around the overlay.
    display.SetThreshold(1e-6, max(top, 1e-6) * 2)
    display.ApplyThresholdOn()
    _color_legend(scene, node, display)
    _into_folder(scene, ct_node, node)
    return node


def _color_legend(scene, volume_node, display):
    import slicer

    if not scene.IsNodeClassRegistered("vtkMRMLColorLegendDisplayNode"):
        # Slicer's Colors module registers it at start-up; a bare scene (slicer-core, tests) has not.
        scene.RegisterNodeClass(slicer.vtkMRMLColorLegendDisplayNode())
    legend = slicer.vtkSlicerColorLogic.GetColorLegendDisplayNode(volume_node)
    if legend is None:
        legend = slicer.vtkSlicerColorLogic.AddDefaultColorLegendDisplayNode(volume_node)
    legend.SetTitleText("Attention")
    legend.SetLabelFormat("%.2f")
    legend.SetVisibility(True)
    return legend


def show_overlay(scene, ct_node, attention_node, opacity: float = 0.5) -> int:
    """CT as background and attention as foreground in every slice view; returns the number of views."""
    composites = nodes_by_class(scene, "vtkMRMLSliceCompositeNode")
    for c in composites:
        c.SetBackgroundVolumeID(ct_node.GetID())
        c.SetForegroundVolumeID(attention_node.GetID())
        c.SetForegroundOpacity(float(opacity))
    return len(composites)


def show_results(scene, ct_node, prediction: dict, attention: sitk.Image, opacity: float = 0.5) -> dict:
    """All outputs of one prediction; returns the nodes by role."""
    color = inferno_color_node(scene)
    attention_node = update_attention_volume(scene, ct_node, attention, color)
    points, lines = update_graph_markups(scene, ct_node, prediction, color)
    out = {"grades": update_grade_table(scene, ct_node, prediction),
           "nodes": update_node_table(scene, ct_node, prediction),
           "graph": points, "edges": lines, "attention": attention_node, "colors": color}
    show_overlay(scene, ct_node, attention_node, opacity)
    return out


def prediction_summary(prediction: dict) -> str:
    """One line for the module panel: the grade, every grade's probability (± the models' spread), the
    tumour count, and a warning when the inputs lie outside what the model was trained on."""
    spread = prediction.get("uncertainty", {}).get("probability_std")
    probs = ", ".join(f"G{g} {v:.2f}" + (f" ± {spread[g]:.2f}" if spread else "")
                      for g, v in prediction["probabilities"].items())
    n_t = sum(n["kind"] == "tumor" for n in prediction["nodes"])
    line = f"Predicted Edmondson–Steiner grade {prediction['grade']} ({probs}); {n_t} tumour node(s)."
    if prediction.get("domain_warnings"):
        line += " Inputs outside the training cases: " + " ".join(prediction["domain_warnings"])
    return line


def set_overlay_opacity(scene, ct_node, opacity: float) -> None:
    """Foreground opacity of every slice view, when ``ct_node`` has an attention overlay (else nothing)."""
    if ct_node is None or not find_outputs(scene, ct_node, "attention", "vtkMRMLScalarVolumeNode"):
        return
    for composite in nodes_by_class(scene, "vtkMRMLSliceCompositeNode"):
        composite.SetForegroundOpacity(float(opacity))
