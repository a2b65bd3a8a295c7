"""Inspecting a topology map on slicer-core MRML: each node's region rebuilt from the exported masks and
matched to the prediction's nodes, highlighted as an outlined label layer, slice views jumping to a
centroid, edges shown or hidden, the attention scale fixed to 0–1, the table layout, a prediction imported
with its model's banner, and TotalSegmentator's result turned into ``liver`` and ``tumor`` segments."""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from mrml_env import require_slicer

slicer = require_slicer()

from fixture_data import add_mask_segment  # noqa: E402

from REACTKDLib.geometry import lps_to_ras, update_volume_from_sitk  # noqa: E402
from REACTKDLib.inference import PredictionInputs  # noqa: E402
from REACTKDLib.model_card import SYNTHETIC_BANNER  # noqa: E402
from REACTKDLib.provenance import MODEL_COLUMN  # noqa: E402
from REACTKDLib.results import import_prediction, result_summary  # noqa: E402
from REACTKDLib.topology import (  # noqa: E402
    ATTENTION_RANGE,
    fix_attention_scale,
    highlight_region,
    jump_slices,
    node_details,
    region_labels,
    set_edges_visible,
    show_table_layout,
)
from REACTKDLib.totalsegmentator import TOTALSEG_ROLE, pick_segment, plan_for, segment_with_totalsegmentator  # noqa: E402

SHAPE = (20, 30, 40)


def ball(shape, center_zyx, radius) -> np.ndarray:
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return (z - center_zyx[0]) ** 2 + (y - center_zyx[1]) ** 2 + (x - center_zyx[2]) ** 2 <= radius ** 2
GEO = {"spacing": (1.5, 1.5, 2.0), "origin": (-30.0, 20.0, -10.0)}


def _image(array):
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.SetSpacing(GEO["spacing"])
    image.SetOrigin(GEO["origin"])
    return image


def _masks():
    liver = ball(SHAPE, (10, 15, 20), 9)
    big, small = ball(SHAPE, (10, 12, 14), 3) & liver, ball(SHAPE, (10, 18, 26), 2) & liver
    return liver, big, small


def _centroid(image, mask) -> list[float]:
    k, j, i = np.argwhere(mask).mean(0)
    return list(image.TransformContinuousIndexToPhysicalPoint((float(i), float(j), float(k))))


def _prediction(image, liver, big, small):
    nodes = [{"kind": "liver", "volume_ml": 10.0, "centroid_lps_mm": _centroid(image, liver), "attention": 0.2,
              "attention_std": 0.01},
             {"kind": "tumor", "volume_ml": 0.3, "centroid_lps_mm": _centroid(image, big), "attention": 0.5},
             {"kind": "tumor", "volume_ml": 0.1, "centroid_lps_mm": _centroid(image, small), "attention": 0.3}]
    return {"probabilities": {"1": 0.2, "2": 0.5, "3": 0.3}, "grade": 2, "nodes": nodes,
            "edges": [{"i": 0, "j": 1, "similarity": 0.9}, {"i": 0, "j": 2, "similarity": 0.4},
                      {"i": 1, "j": 2, "similarity": 0.5}]}


def test_regions_are_matched_to_nodes_by_centroid():
    liver, big, small = _masks()
    image = _image(liver)
    nodes = _prediction(image, liver, big, small)["nodes"]
    # the prediction lists the small tumour first: matching goes by centroid, not by order
    labels, per_node = region_labels(image, _image(big | small), [nodes[0], nodes[2], nodes[1]])
    arr = sitk.GetArrayFromImage(labels)
    assert per_node == [1, 2, 3]
    assert np.array_equal(arr == 2, small) and np.array_equal(arr == 3, big)
    assert np.array_equal(arr == 1, liver & ~big & ~small)
    # a component the core dropped (no node for it) gets no region; no tumour mask: the liver alone
    labels, per_node = region_labels(image, _image(big | small), nodes[:2])
    assert per_node == [1, 2] and not (sitk.GetArrayFromImage(labels)[small] > 0).any()
    labels, per_node = region_labels(image, None, nodes)
    assert per_node == [1, 0, 0]


def _scene_with_views():
    scene = slicer.vtkMRMLScene()
    views = []
    for name in ("Red", "Yellow", "Green"):
        view = scene.AddNewNodeByClass("vtkMRMLSliceNode", name)
        composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
        composite.SetLayoutName(name)
        views.append((view, composite))
    scene.AddNewNodeByClass("vtkMRMLTableViewNode")
    return scene, views


def _write_run(tmp_path, liver, big, small):
    """The files one grading run leaves: the exported masks and ``out/prediction.json`` + attention."""
    image = _image(liver)
    inputs = PredictionInputs(tmp_path, tmp_path / "ct.nrrd", tmp_path / "liver.nrrd", tmp_path / "tumor.nrrd")
    sitk.WriteImage(sitk.Cast(image, sitk.sitkInt16), str(inputs.ct))
    sitk.WriteImage(image, str(inputs.liver))
    sitk.WriteImage(_image(big | small), str(inputs.tumor))
    inputs.out.mkdir()
    prediction = _prediction(image, liver, big, small)
    (inputs.out / "prediction.json").write_text(json.dumps(prediction))
    attention = np.where(big, 0.5, np.where(small, 0.3, np.where(liver, 0.2, 0.0))).astype(np.float32)
    att = sitk.GetImageFromArray(attention)
    att.CopyInformation(image)
    sitk.WriteImage(att, str(inputs.out / "attention.nii.gz"))
    return inputs, prediction


def test_an_imported_prediction_can_be_inspected(tmp_path):
    liver, big, small = _masks()
    inputs, prediction = _write_run(tmp_path, liver, big, small)
    scene, views = _scene_with_views()
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    update_volume_from_sitk(ct, sitk.ReadImage(str(inputs.ct)))
    out = import_prediction(scene, ct, inputs, 0.4, "/models/demo-synthetic", SYNTHETIC_BANNER)
    # the attention scale is fixed to 0–1 whatever this case's maximum (0.5)
    display = out["attention"].GetDisplayNode()
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == ATTENTION_RANGE
    # the banner: in the summary, in every row of the grade table, on every output node
    assert result_summary(out).startswith(SYNTHETIC_BANNER)
    column = out["grades"].GetTable().GetColumnByName(MODEL_COLUMN)
    assert all(column.GetValue(r).startswith(SYNTHETIC_BANNER) for r in range(3))
    for node in (out["grades"], out["nodes"], out["graph"], out["attention"], out["region_map"], *out["edges"]):
        assert node.GetAttribute("REACTKD.Synthetic") == "true"
    # select tumour 1 (the big one): views centred on its centroid, only its region outlined
    for index in (1, 2):
        assert jump_slices(scene, lps_to_ras(prediction["nodes"][index]["centroid_lps_mm"])) == 3
        assert highlight_region(scene, ct, index)
        for view, composite in views:
            m = view.GetSliceToRAS()
            np.testing.assert_allclose([m.GetElement(i, 3) for i in range(3)],
                                       lps_to_ras(prediction["nodes"][index]["centroid_lps_mm"]), atol=1e-6)
            assert composite.GetLabelVolumeID() == out["region_map"].GetID() and view.GetUseLabelOutline()
        colors = out["region_map"].GetDisplayNode().GetColorNode()
        rgba = [0.0] * 4
        alphas = []
        for label in range(colors.GetNumberOfColors()):
            colors.GetColor(label, rgba)
            alphas.append(rgba[3])
        assert alphas == [0.0] + [1.0 if label == index else 0.0 for label in range(3)]
    from REACTKDLib.geometry import array_from_volume

    region = array_from_volume(out["region_map"])
    assert np.array_equal(region == 2, big) and np.array_equal(region == 3, small)
    assert node_details(prediction["nodes"], 0) == "liver: liver, 10.00 ml, attention 0.200 ± 0.010"
    assert node_details(prediction["nodes"], 1) == "tumour 1: tumour, 0.30 ml, attention 0.500"
    # edges hidden and shown again
    assert set_edges_visible(scene, ct, False) == 3
    assert all(not line.GetDisplayNode().GetVisibility() for line in out["edges"])
    set_edges_visible(scene, ct, True)
    assert all(line.GetDisplayNode().GetVisibility() for line in out["edges"])
    # the tables in a layout with a table view
    show_table_layout(scene, out["grades"])
    layout = scene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    assert layout.GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView
    assert scene.GetFirstNodeByClass("vtkMRMLTableViewNode").GetTableNodeID() == out["grades"].GetID()
    # a re-run replaces the region map instead of adding one; nothing highlighted after deselection
    again = import_prediction(scene, ct, inputs, 0.4, "/models/mine")
    assert again["region_map"].GetID() == out["region_map"].GetID()
    assert scene.GetNumberOfNodesByClass("vtkMRMLLabelMapVolumeNode") == 1
    assert again["grades"].GetAttribute("REACTKD.Synthetic") == "false" and not again["banner"]
    assert highlight_region(scene, ct, None)
    other = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "another CT")
    assert not highlight_region(scene, other, 0)


def test_fix_attention_scale_makes_a_display_node():
    scene = slicer.vtkMRMLScene()
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "attention")
    update_volume_from_sitk(node, sitk.GetImageFromArray(np.full((3, 3, 3), 0.7, np.float32)))
    fix_attention_scale(node)
    display = node.GetDisplayNode()
    assert (display.GetWindowLevelMin(), display.GetWindowLevelMax()) == (0.0, 1.0) and display.GetApplyThreshold()


class _Logic:
    """TotalSegmentator's logic as far as ``process`` goes (see test_widget's fuller stand-in)."""

    def __init__(self, masks: dict, tasks):
        self.tasks, self.masks, self.calls = {t: {} for t in tasks}, masks, []

    def process(self, inputVolume, outputSegmentation, quality=None, cpu=False, task=None, subset=None):
        self.calls.append((task, subset))
        classes = subset or {"liver_vessels": ["liver_vessels", "liver_tumor"],
                             "liver_lesions": ["liver_lesions"]}[task]
        for cls in classes:
            if cls in self.masks:
                name, mask = self.masks[cls]
                add_mask_segment(outputSegmentation, cls, name, mask, inputVolume)


def test_totalsegmentator_plan_and_names():
    assert plan_for(["total", "liver_vessels"]).tumor == ("liver_vessels", None, "liver_tumor")
    assert plan_for(["total", "liver_vessels", "liver_lesions"]).tumor == ("liver_lesions", None, "liver_lesions")
    with pytest.raises(ValueError, match="no liver tumour task"):
        plan_for(["total", "body"])
    segments = [("liver", "Liver"), ("Segment_2", "liver tumor"), ("liver_vessels", "Liver vessels")]
    assert pick_segment(segments, "liver") == "liver"
    assert pick_segment(segments, "liver_tumor") == "Segment_2"  # renamed to its terminology label
    assert pick_segment(segments, "liver_lesions") is None


@pytest.mark.parametrize("tasks", [("total", "liver_vessels"), ("total", "liver_vessels", "liver_lesions")])
def test_totalsegmentator_result_becomes_liver_and_tumor(tasks):
    from REACTKDLib.segments import default_segment_choice, segment_names, segments_mask_on_volume

    scene = slicer.vtkMRMLScene()
    slicer.mrmlScene = scene
    liver, big, small = _masks()
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "Patient CT")
    update_volume_from_sitk(ct, sitk.Cast(_image(liver), sitk.sitkInt16))
    tumours = big | small
    logic = _Logic({"liver": ("Liver", liver), "liver_tumor": ("Liver tumor", tumours),
                    "liver_vessels": ("Liver vessels", np.zeros_like(liver)),
                    "liver_lesions": ("Liver lesions", tumours)}, tasks)
    node = segment_with_totalsegmentator(logic, scene, ct, cpu=True)
    assert logic.calls[0] == ("total", ["liver"]) and logic.calls[1][0] == tasks[-1]
    assert (node.GetName() == "Patient CT liver and tumours (TotalSegmentator)"
            and node.GetAttribute("REACTKD.Role") == TOTALSEG_ROLE)
    liver_id, tumor_ids = default_segment_choice(segment_names(node))
    names = dict(segment_names(node))
    assert list(names.values()) == ["liver", "tumor"] and names[liver_id] == "liver"
    assert [names[t] for t in tumor_ids] == ["tumor"]
    got = segments_mask_on_volume(scene, node, tumor_ids, ct)
    assert np.array_equal(got.astype(bool), tumours)
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 1  # the extension's own nodes removed
    again = segment_with_totalsegmentator(logic, scene, ct)
    assert again.GetID() == node.GetID() and scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 1
    # no liver found: one line, nothing left behind
    logic.masks.pop("liver")
    with pytest.raises(ValueError, match="found no liver on 'Patient CT'"):
        segment_with_totalsegmentator(logic, scene, ct)
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 1
