"""Segment selection by name and segment masks on the CT grid (a .seg.nrrd written with slicerio)."""

import numpy as np
import pytest
import SimpleITK as sitk
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.geometry import update_volume_from_sitk
from REACTKDLib.segments import (
    TUMOR_NAMES,
    default_segment_choice,
    load_segmentation_file,
    segment_ids_by_name,
    segment_names,
    segments_mask_on_volume,
)


def test_tumour_names_agree_with_the_core():
    from reactkd.io.masks import TUMOR_NAMES as CORE

    assert TUMOR_NAMES == CORE


def test_default_choice_by_name():
    segs = [("a", "Spleen"), ("b", "liver"), ("c", "Liver tumor"), ("d", "HCC 2"), ("e", "Lesion"), ("f", "Kidney")]
    assert default_segment_choice(segs) == ("b", ["c", "d", "e"])
    assert default_segment_choice([("x", "Liver tumour")]) == (None, ["x"])  # a tumour is not the liver
    assert default_segment_choice([]) == (None, [])


def test_real_seg_nrrd_segments_land_on_the_ct_voxels(scene, real_ct_path, real_seg_nrrd, load_volume):
    path, masks = real_seg_nrrd
    ct = load_volume(scene, real_ct_path)
    seg = load_segmentation_file(scene, path)
    names = [n for _, n in segment_names(seg)]
    assert names == list(masks)
    liver, tumors = default_segment_choice(segment_names(seg))
    assert [dict(segment_names(seg))[t] for t in tumors] == ["Tumor 1", "HCC lesion 2"]
    got_liver = segments_mask_on_volume(scene, seg, [liver], ct)
    np.testing.assert_array_equal(got_liver.astype(bool), masks["Liver"])
    got_tumor = segments_mask_on_volume(scene, seg, tumors, ct)
    np.testing.assert_array_equal(got_tumor.astype(bool), masks["Tumor 1"] | masks["HCC lesion 2"])
    assert scene.GetFirstNodeByName("__REACTKD_temp__") is None  # the temporary labelmap is gone


def test_segment_on_a_smaller_grid_is_resampled_into_the_ct(scene):
    """A segment drawn on a cropped, 2×-finer grid of the CT must land on the same world position."""
    ct_img = sitk.Image(20, 16, 12, sitk.sitkInt16)
    ct_img.SetSpacing((2.0, 2.0, 2.0))
    ct_img.SetOrigin((-10.0, 5.0, 40.0))
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    update_volume_from_sitk(ct, ct_img)
    # mask image: 1 mm voxels starting at CT voxel (4, 3, 2); the box covers CT voxels x 6..7, y 5..6, z 4..5
    fine = np.zeros((12, 12, 12), np.uint8)
    fine[4:8, 4:8, 4:8] = 1
    mask_img = sitk.GetImageFromArray(fine)
    mask_img.SetSpacing((1.0, 1.0, 1.0))
    mask_img.SetOrigin(ct_img.TransformIndexToPhysicalPoint((4, 3, 2)))
    mask_img.SetOrigin(tuple(o - 0.5 for o in mask_img.GetOrigin()))  # voxel edges aligned with the CT's
    label = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "mask")
    update_volume_from_sitk(label, mask_img)
    import slicer

    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "seg")
    assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(label, seg)
    seg.GetSegmentation().GetNthSegment(0).SetName("Liver")
    got = segments_mask_on_volume(scene, seg, segment_ids_by_name(seg, ["liver"]), ct)
    assert got.shape == (12, 16, 20)
    expected = np.zeros_like(got)
    expected[4:6, 5:7, 6:8] = 1
    np.testing.assert_array_equal(got, expected)


def test_unknown_names_and_ids_are_explained(scene):
    import slicer

    one = sitk.Image(4, 4, 4, sitk.sitkUInt8)
    one[1, 1, 1] = 1
    label = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "mask")
    update_volume_from_sitk(label, one)
    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "seg")
    assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(label, seg)
    seg.GetSegmentation().GetNthSegment(0).SetName("Liver")
    with pytest.raises(ValueError, match=r"no segment named 'tumor'; its segments are \['Liver'\]"):
        segment_ids_by_name(seg, ["tumor"])
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    update_volume_from_sitk(ct, sitk.Image(4, 4, 4, sitk.sitkInt16))
    with pytest.raises(ValueError, match="no segment with ID 'nope'"):
        segments_mask_on_volume(scene, seg, ["nope"], ct)
    with pytest.raises(ValueError, match="no segment selected"):
        segments_mask_on_volume(scene, seg, [], ct)


def test_the_users_choice_survives_every_reread():
    from REACTKDLib.segments import keep_segment_choice

    segs = [("a", "Segment_1"), ("b", "Segment_2"), ("c", "Tumor 1")]  # no segment is named "liver"
    # the user picked the liver and unchecked the tumour: an unchanged list keeps exactly that
    assert keep_segment_choice(segs, "a", [], previous_ids=["a", "b", "c"]) == ("a", [])
    assert keep_segment_choice(segs, "", ["b"], previous_ids=["a", "b", "c"]) == ("", ["b"])
    # first look, nothing chosen: by name; first look with a choice (a reloaded scene): kept
    assert keep_segment_choice(segs, "", [], previous_ids=None) == ("", ["c"])
    assert keep_segment_choice(segs, "b", ["a"], previous_ids=None) == ("b", ["a"])
    # a segment added in the Segment Editor: a tumour-named one joins, the rest of the choice stays
    more = segs + [("d", "Tumor 2"), ("e", "Spleen")]
    assert keep_segment_choice(more, "a", ["b"], previous_ids=["a", "b", "c"]) == ("a", ["b", "d"])
    # a removed segment leaves the choice; a removed liver is replaced by one named so
    named = [("x", "Liver"), ("c", "Tumor 1")]
    assert keep_segment_choice(named, "a", ["c", "b"], previous_ids=["a", "b", "c", "x"]) == ("x", ["c"])
    assert keep_segment_choice([], "a", ["c"], previous_ids=["a", "c"]) == ("", [])


def test_the_panel_carries_the_choice_per_segmentation():
    from REACTKDLib.segments import carried_segment_choice

    segs = [("a", "Organ"), ("b", "Lesion A"), ("c", "Lesion B")]
    # first look: by name; what was seen is remembered
    liver, tumors, seen = carried_segment_choice(segs, "seg1", "", [], (None, None))
    assert (liver, tumors, seen) == ("", ["b", "c"], ("seg1", ["a", "b", "c"]))
    # the user's choice on the same, unchanged segmentation stays exactly as it is
    assert carried_segment_choice(segs, "seg1", "a", ["b"], seen) == ("a", ["b"], seen)
    # another segmentation: the old choice was for that one and is dropped, the names decide
    other = [("x", "Liver"), ("y", "Tumor 1")]
    assert carried_segment_choice(other, "seg2", "a", ["b"], seen) == ("x", ["y"], ("seg2", ["x", "y"]))


def test_the_ct_selector_offers_cts_only(scene):
    from REACTKDLib.ct_filter import (
        MODALITY_ATTRIBUTE,
        ct_candidates,
        hidden_ct_node_ids,
        is_ct_candidate,
        mark_modality,
    )
    from REACTKDLib.outputs import show_results

    def volume(name, cls="vtkMRMLScalarVolumeNode"):
        node = scene.AddNewNodeByClass(cls, name)
        update_volume_from_sitk(node, sitk.Image(4, 4, 4, sitk.sitkInt16))
        return node

    ct, pet, fdg, label = (volume("Abdomen CT"), volume("PET AC"), volume("fdg_suv"),
                           volume("liver", "vtkMRMLLabelMapVolumeNode"))
    series = volume("Series 4: WB 3D MAC")
    sh = scene.GetSubjectHierarchyNode()
    item = sh.CreateItem(sh.GetSceneItemID(), series)
    sh.SetItemAttribute(item, "DICOM.Modality", "PT")  # what Slicer's DICOM import records on the series
    petct = volume("Petra CT")  # "Petra" is a word, not "PET"
    prediction = {"probabilities": {"1": 0.2, "2": 0.5, "3": 0.3}, "grade": 2, "edges": [],
                  "nodes": [{"kind": "liver", "volume_ml": 1.0, "centroid_lps_mm": [0, 0, 0], "attention": 1.0}]}
    attention = sitk.Image(4, 4, 4, sitk.sitkFloat32)
    out = show_results(scene, ct, prediction, attention)
    assert [n.GetName() for n in ct_candidates(scene)] == ["Abdomen CT", "Petra CT"]
    assert set(hidden_ct_node_ids(scene)) == {pet.GetID(), fdg.GetID(), label.GetID(), series.GetID(),
                                              out["attention"].GetID()}
    mark_modality(pet, "CT")  # the user's own mark wins over the name
    mark_modality(petct, "pt")
    assert is_ct_candidate(pet) and not is_ct_candidate(petct) and petct.GetAttribute(MODALITY_ATTRIBUTE) == "PT"
    assert not is_ct_candidate(None)
