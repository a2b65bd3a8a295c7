""""Segment liver and tumours": the ``reactkd segment`` command, when the button is offered, loading the
produced ``.seg.nrrd`` into a real MRML scene (names, geometry, subject hierarchy, replacement on re-run),
and the whole path through a child process on the real CT with a tiny trained seg model."""

import sys

import numpy as np
import pytest
import SimpleITK as sitk
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.commands import segment_command
from REACTKDLib.geometry import update_volume_from_sitk, volume_to_sitk
from REACTKDLib.segmentation import (
    SEGMENTATION_ROLE,
    default_seg_model,
    load_segmentation_result,
    offers_segmentation,
    parse_segment_progress,
    start_segmentation,
)
from REACTKDLib.segments import default_segment_choice, segment_names, segments_mask_on_volume


def _ct(scene, name="CT 1"):
    img = sitk.Image(20, 16, 12, sitk.sitkInt16)
    img.SetSpacing((1.5, 1.5, 3.0))
    img.SetOrigin((100.0, 50.0, -20.0))
    img.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)
    update_volume_from_sitk(node, img)
    return node, img


def _write_result(img, folder, shift=0):
    """What ``reactkd segment`` writes, for labels on ``img``'s grid: a liver box with a tumour inside."""
    from reactkd.segment.writer import write_masks

    labels = np.zeros(sitk.GetArrayFromImage(img).shape, np.uint8)
    labels[2:9, 3:12, 4 + shift:15 + shift] = 1
    labels[4:6, 5:8, 6 + shift:9 + shift] = 2
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(img)
    return write_masks(image, folder)["seg_nrrd"], labels


def test_segment_command_and_progress():
    cmd = segment_command("runs/seg-demo", "ct.nrrd", "out", "cpu")
    assert cmd[:3] == [sys.executable, "-m", "reactkd"]
    assert cmd[3:] == ["segment", "--model", "runs/seg-demo", "--ct", "ct.nrrd", "--out", "out", "--device", "cpu",
                       "--progress"]
    assert parse_segment_progress(" 50%|#####     | 32/64 [00:03<00:03,  9.8it/s]") == 0.5
    assert parse_segment_progress("liver 1500.0 ml, tumour 12.0 ml (3.1 s) → out") is None


def test_default_seg_model_is_only_the_environments(tmp_path, monkeypatch):
    """No `runs/seg-demo` beside the source tree or the current folder is picked up (an installed extension
    has none): the segmentation model is chosen, or given in $REACTKD_SEG_MODEL."""
    monkeypatch.delenv("REACTKD_SEG_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "seg-demo"
    (run / "student").mkdir(parents=True)
    (run / "student" / "best.pt").write_bytes(b"x")
    assert default_seg_model() == ""
    monkeypatch.setenv("REACTKD_SEG_MODEL", "/models/seg.pt")
    assert default_seg_model() == "/models/seg.pt"


def _seg_file(path, names):
    import slicerio

    voxels = np.zeros((6, 5, 4), np.uint8)
    segments = []
    for value, name in enumerate(names, start=1):
        voxels[value, 1:3, 1:3] = value
        segments.append({"id": f"Segment_{value}", "name": name, "labelValue": value, "layer": 0,
                         "color": [0.5, 0.5, 0.5]})
    slicerio.write_segmentation(str(path), {"voxels": voxels, "ijkToLPS": np.eye(4), "encoding": "gzip",
                                            "segments": segments})
    return path


def test_button_is_offered_without_liver_and_tumour_segments(scene, tmp_path):
    from REACTKDLib.segments import load_segmentation_file

    assert offers_segmentation(None)
    spleen = load_segmentation_file(scene, _seg_file(tmp_path / "spleen.seg.nrrd", ["Spleen"]))
    assert offers_segmentation(spleen)
    own = load_segmentation_file(scene, _seg_file(tmp_path / "own.seg.nrrd", ["Spleen", "Liver"]))
    assert not offers_segmentation(own)  # the user's own liver: grade that, do not offer to replace it
    lesion = load_segmentation_file(scene, _seg_file(tmp_path / "lesion.seg.nrrd", ["HCC 1"]))
    assert not offers_segmentation(lesion)


def test_segment_button_reasons_and_the_tools_offered(scene):
    from REACTKDLib.segmentation import segment_problems
    from REACTKDLib.totalsegmentator import segment_sources

    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    assert segment_problems(None, None, "reactkd", ".") == [
        "Select a CT volume.", "Select a segmentation model (a `reactkd seg-distill` run folder or checkpoint)."]
    assert segment_problems(ct, None, "reactkd", "/runs/seg") == []
    assert segment_problems(ct, None, "totalsegmentator", "") == []  # no model to choose for that tool
    done = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Done")
    done.GetSegmentation().AddEmptySegment("liver", "Liver")
    assert segment_problems(ct, done, "totalsegmentator", "")[0].startswith("The selected segmentation already has")
    assert [key for key, _ in segment_sources(True)] == ["totalsegmentator", "reactkd"]
    assert [key for key, _ in segment_sources(False)] == ["reactkd"]


def test_result_loads_named_after_the_ct_on_its_geometry_and_replaces_on_rerun(scene, tmp_path):
    ct, img = _ct(scene)
    sh = scene.GetSubjectHierarchyNode()
    study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "Patient"), "Study")
    sh.SetItemParent(sh.CreateItem(sh.GetSceneItemID(), ct), study)
    path, labels = _write_result(img, tmp_path / "a")
    node = load_segmentation_result(scene, ct, path)
    assert node.GetName() == "CT 1 liver and tumours"
    assert node.GetAttribute("REACTKD.Role") == SEGMENTATION_ROLE and node.GetStorageNode() is None
    assert sh.GetItemParent(sh.GetItemByDataNode(node)) == study
    assert [name for _, name in segment_names(node)] == ["liver", "tumor"]
    liver_id, tumor_ids = default_segment_choice(segment_names(node))  # what Apply pre-selects
    liver = segments_mask_on_volume(scene, node, [liver_id], ct)
    tumor = segments_mask_on_volume(scene, node, tumor_ids, ct)
    np.testing.assert_array_equal(liver, labels > 0)
    np.testing.assert_array_equal(tumor, labels == 2)
    assert offers_segmentation(node)  # REACTKD's own result: re-running is offered
    # re-run: the same node is updated (selections pointing at it stay valid), nothing is added
    node_id = node.GetID()
    path2, labels2 = _write_result(img, tmp_path / "b", shift=3)
    again = load_segmentation_result(scene, ct, path2)
    assert again.GetID() == node_id and scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 1
    np.testing.assert_array_equal(segments_mask_on_volume(scene, again, [liver_id], ct), labels2 > 0)
    # another CT gets its own node
    ct2, _ = _ct(scene, "CT 2")
    other = load_segmentation_result(scene, ct2, path)
    assert other.GetID() != node_id and other.GetName() == "CT 2 liver and tumours"


def test_a_missing_or_foreign_file_is_explained(scene, tmp_path, real_seg_nrrd):
    ct, _ = _ct(scene)
    with pytest.raises(FileNotFoundError, match="did `reactkd segment` finish"):
        load_segmentation_result(scene, ct, tmp_path / "nothing.seg.nrrd")
    with pytest.raises(ValueError, match="expected \\['liver', 'tumor'\\]"):
        load_segmentation_result(scene, ct, real_seg_nrrd[0])
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0
    with pytest.raises(ValueError, match="Segmentation model not found"):
        start_segmentation(ct, str(tmp_path / "no-model"), tmp_path / "job", "cpu")


@pytest.mark.real
@pytest.mark.slow
def test_real_ct_is_segmented_through_a_child_process(scene, real_ct_path, load_volume, tiny_seg_run, tmp_path):
    if not real_ct_path.is_file():
        pytest.skip(f"real CT fixture not found at {real_ct_path}")
    ct = load_volume(scene, real_ct_path)
    job, proc = start_segmentation(ct, str(tiny_seg_run), tmp_path / "job", "cpu")
    fractions = []
    code = proc.wait(timeout=240, on_line=lambda line: fractions.append(parse_segment_progress(line)))
    assert code == 0, "\n".join(proc.lines[-20:])
    assert any(f == 1.0 for f in fractions), proc.lines[-10:]  # the progress bar reached the GUI's parser
    node = load_segmentation_result(scene, ct, job.seg_nrrd)
    assert sorted(name for _, name in segment_names(node)) == ["liver", "tumor"]
    liver_id, tumor_ids = default_segment_choice(segment_names(node))
    liver = segments_mask_on_volume(scene, node, [liver_id], ct)
    written = sitk.ReadImage(str(job.out / "liver.nii.gz"))
    ct_image = volume_to_sitk(ct)
    assert written.GetSize() == ct_image.GetSize()
    np.testing.assert_allclose(written.GetOrigin(), ct_image.GetOrigin(), atol=1e-4)
    np.testing.assert_array_equal(liver, sitk.GetArrayFromImage(written))  # voxel for voxel on the CT
