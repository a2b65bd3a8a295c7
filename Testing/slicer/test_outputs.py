"""Result nodes: grade and region tables, graph markups, attention volume with Inferno and legend,
slice-view overlay, subject-hierarchy folder, and replacement on re-run."""

import numpy as np
import SimpleITK as sitk
import vtk
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.geometry import ijk_to_ras_matrix, lps_to_ras, update_volume_from_sitk
from REACTKDLib.outputs import FOLDER_NAME, find_outputs, inferno_color_node, show_results


def _ct(scene):
    img = sitk.Image(10, 8, 6, sitk.sitkInt16)
    img.SetSpacing((1.5, 1.5, 3.0))
    img.SetOrigin((100.0, 50.0, -20.0))
    img.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    update_volume_from_sitk(node, img)
    return node, img


def _prediction(n_tumours=2):
    nodes = [{"kind": "liver", "volume_ml": 1500.0, "centroid_lps_mm": [10.0, 20.0, 30.0], "attention": 0.3}]
    for k in range(n_tumours):
        nodes.append({"kind": "tumor", "volume_ml": 5.0 + k, "centroid_lps_mm": [12.0 + k, 18.0, 33.0],
                      "attention": 0.7 / n_tumours})
    n = len(nodes)
    edges = [{"i": i, "j": j, "similarity": 0.1 + 0.2 * (i + j)} for i in range(n) for j in range(i + 1, n)]
    return {"probabilities": {"1": 0.2, "2": 0.5, "3": 0.3}, "grade": 2, "nodes": nodes, "edges": edges,
            "modalities": {"ct": True, "pet": []}}


def _attention(img):
    att = np.zeros(sitk.GetArrayFromImage(img).shape, np.float32)
    att[2:4, 3:5, 4:7] = 0.7
    att[1, 1, 1] = 0.3
    out = sitk.GetImageFromArray(att)
    out.CopyInformation(img)
    return out


def _column(table_node, name):
    table = table_node.GetTable()
    col = table.GetColumnByName(name)
    return [col.GetValue(r) for r in range(table.GetNumberOfRows())]


def test_results_in_the_scene(scene):
    ct, img = _ct(scene)
    views = [scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode") for _ in range(3)]
    out = show_results(scene, ct, _prediction(), _attention(img), opacity=0.4)
    # grade table
    assert _column(out["grades"], "Grade") == ["G1", "G2", "G3"]
    np.testing.assert_allclose(_column(out["grades"], "Probability"), [0.2, 0.5, 0.3])
    assert _column(out["grades"], "Predicted") == ["", "yes", ""]
    assert out["grades"].GetAttribute("REACTKD.PredictedGrade") == "2"
    # region table, centroids in RAS
    assert _column(out["nodes"], "Node") == ["liver", "tumour 1", "tumour 2"]
    np.testing.assert_allclose(_column(out["nodes"], "Volume (ml)"), [1500.0, 5.0, 6.0])
    assert _column(out["nodes"], "R")[0] == -10.0 and _column(out["nodes"], "A")[0] == -20.0
    # graph points: RAS = LPS with x, y negated; labels carry attention
    points = out["graph"]
    assert points.GetNumberOfControlPoints() == 3
    p = [0.0, 0.0, 0.0]
    points.GetNthControlPointPosition(1, p)
    np.testing.assert_allclose(p, lps_to_ras([12.0, 18.0, 33.0]))
    assert points.GetNthControlPointLabel(0) == "liver 0.30"
    assert points.GetDisplayNode().GetVisibility3D()
    # edges: one line per pair, thicker and more opaque for more similar nodes
    lines = out["edges"]
    assert len(lines) == 3
    sims = [float(line.GetAttribute("REACTKD.Similarity")) for line in lines]
    diam = [line.GetDisplayNode().GetLineDiameter() for line in lines]
    assert np.all(np.diff(np.array(diam)[np.argsort(sims)]) > 0)
    a = [0.0, 0.0, 0.0]
    lines[0].GetNthControlPointPosition(0, a)
    np.testing.assert_allclose(a, lps_to_ras([10.0, 20.0, 30.0]))
    # attention volume on the CT's grid with Inferno, zero transparent, legend
    att = out["attention"]
    np.testing.assert_allclose(ijk_to_ras_matrix(att), ijk_to_ras_matrix(ct))
    disp = att.GetDisplayNode()
    assert disp.GetColorNodeID() == out["colors"].GetID() and disp.GetApplyThreshold()
    assert 0 < disp.GetLowerThreshold() < 0.3 and abs(disp.GetWindow() - 0.7) < 1e-6
    import slicer

    legend = slicer.vtkSlicerColorLogic.GetColorLegendDisplayNode(att)
    assert legend is not None and legend.GetTitleText() == "Attention"
    # overlay in every slice view
    for v in views:
        assert v.GetBackgroundVolumeID() == ct.GetID() and v.GetForegroundVolumeID() == att.GetID()
        assert abs(v.GetForegroundOpacity() - 0.4) < 1e-9
    # one subject-hierarchy folder beside the CT holds every output
    sh = scene.GetSubjectHierarchyNode()
    folder = sh.GetItemParent(sh.GetItemByDataNode(att))
    assert sh.GetItemName(folder).startswith(FOLDER_NAME)
    for node in [out["grades"], out["nodes"], points, *lines]:
        assert sh.GetItemParent(sh.GetItemByDataNode(node)) == folder


def test_results_go_under_the_cts_study(scene):
    ct, img = _ct(scene)
    sh = scene.GetSubjectHierarchyNode()
    patient = sh.CreateSubjectItem(sh.GetSceneItemID(), "Patient 1")
    study = sh.CreateStudyItem(patient, "CT study")
    sh.CreateItem(study, ct)
    out = show_results(scene, ct, _prediction(), _attention(img))
    folder = sh.GetItemParent(sh.GetItemByDataNode(out["attention"]))
    assert sh.GetItemParent(folder) == study


def test_rerun_replaces_instead_of_duplicating(scene):
    ct, img = _ct(scene)
    show_results(scene, ct, _prediction(n_tumours=3), _attention(img))
    counts = {c: scene.GetNumberOfNodesByClass(c) for c in
              ("vtkMRMLTableNode", "vtkMRMLMarkupsFiducialNode", "vtkMRMLScalarVolumeNode", "vtkMRMLColorTableNode",
               "vtkMRMLColorLegendDisplayNode")}
    assert len(find_outputs(scene, ct, "edge", "vtkMRMLMarkupsLineNode")) == 6
    out = show_results(scene, ct, _prediction(n_tumours=1), _attention(img))
    assert {c: scene.GetNumberOfNodesByClass(c) for c in counts} == counts
    assert len(find_outputs(scene, ct, "edge", "vtkMRMLMarkupsLineNode")) == 1
    assert scene.GetNumberOfNodesByClass("vtkMRMLMarkupsLineNode") == 1
    assert out["graph"].GetNumberOfControlPoints() == 2
    sh = scene.GetSubjectHierarchyNode()
    folders = [i for i in range(1, 10_000) if sh.GetItemName(i).startswith(FOLDER_NAME)]
    assert len(folders) == 1
    # another CT gets its own outputs
    ct2, img2 = _ct(scene)
    out2 = show_results(scene, ct2, _prediction(), _attention(img2))
    assert out2["grades"] is not out["grades"]
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == counts["vtkMRMLTableNode"] + 2


def test_inferno_table_is_perceptual_black_to_yellow(scene):
    node = inferno_color_node(scene)
    assert node.GetNumberOfColors() == 256
    rgba = [0.0] * 4
    node.GetColor(0, rgba)
    assert max(rgba[:3]) < 0.05
    node.GetColor(255, rgba)
    assert rgba[0] > 0.95 and rgba[1] > 0.95 and rgba[2] < 0.7
    lum = []
    for i in range(0, 256, 16):
        node.GetColor(i, rgba)
        lum.append(0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2])
    assert np.all(np.diff(lum) > 0)  # brightness rises monotonically: readable in grey too
    assert inferno_color_node(scene) is node


def test_grading_cycles_leave_no_reference_to_the_ct_after_the_scene_closes(scene):
    """20 rounds of what Apply and the panel do (results imported, tables updated, overlay shown, opacity
    changed), then Close scene: the CT's voxels are released as far as the scene held them (the image
    data's reference count is back to where it was before the first round)."""
    from REACTKDLib.outputs import set_overlay_opacity

    ct, img = _ct(scene)
    for _ in range(3):
        scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    image_data = ct.GetImageData()
    start = image_data.GetReferenceCount()
    for cycle in range(20):
        show_results(scene, ct, _prediction(n_tumours=1 + cycle % 3), _attention(img), opacity=0.5)
        for opacity in (0.2, 0.8):
            set_overlay_opacity(scene, ct, opacity)
        assert len(find_outputs(scene, ct, "grades", "vtkMRMLTableNode")) == 1
    # re-runs replace their nodes with everything that belongs to them (display nodes of removed edges too)
    lines = find_outputs(scene, ct, "edge", "vtkMRMLMarkupsLineNode")
    assert scene.GetNumberOfNodesByClass("vtkMRMLMarkupsDisplayNode") == 1 + len(lines)
    sh = scene.GetSubjectHierarchyNode()
    children = vtk.vtkIdList()
    sh.GetItemChildren(sh.GetSceneItemID(), children, True)
    items = [children.GetId(i) for i in range(children.GetNumberOfIds())]
    stale = [sh.GetItemName(i) for i in items
             if sh.GetItemDataNode(i) is None and sh.GetItemAttribute(i, "REACTKD.Role") != "folder"]
    assert not stale, f"subject-hierarchy items of removed nodes: {stale}"
    scene.Clear(0)
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 0
    assert image_data.GetReferenceCount() == start
    assert ct.GetReferenceCount() == 1  # only this test's own Python reference is left
    del ct
    assert image_data.GetReferenceCount() == 1  # the voxels go with this test's last reference
