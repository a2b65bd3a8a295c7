"""From scene nodes to results in the scene on the real CT: export, ``reactkd predict`` in a separate
process (a tiny untrained student: the plumbing, not the grade), import, and the offscreen picture read
back."""

import numpy as np
import pytest
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from matplotlib.image import imread

from REACTKDLib.geometry import (
    array_from_volume,
    ijk_to_ras_matrix,
    lps_to_ras,
    update_volume_from_sitk,
    volume_to_sitk,
)
from REACTKDLib.inference import export_inputs, read_prediction, start_prediction
from REACTKDLib.outputs import show_results
from REACTKDLib.segments import default_segment_choice, load_segmentation_file, segment_names
from REACTKDLib.snapshot import render_overlay_png

pytestmark = pytest.mark.real


def test_real_ct_predicts_into_the_scene(scene, real_ct_path, real_seg_nrrd, load_volume, tiny_model, tmp_path):
    path, masks = real_seg_nrrd
    ct = load_volume(scene, real_ct_path)
    seg = load_segmentation_file(scene, path)
    liver, tumors = default_segment_choice(segment_names(seg))
    inputs = export_inputs(scene, ct, seg, [liver], tumors, tmp_path / "job")
    assert not inputs.warnings
    proc = start_prediction(inputs, str(tiny_model), device="cpu")
    code = proc.wait(timeout=240)
    assert code == 0, "\n".join(proc.lines[-20:])
    prediction, attention = read_prediction(inputs.out)
    assert [n["kind"] for n in prediction["nodes"]] == ["liver", "tumor", "tumor"]
    assert len(prediction["edges"]) == 3
    out = show_results(scene, ct, prediction, attention)
    att = array_from_volume(out["attention"])
    assert att.shape == array_from_volume(ct).shape
    drawn = masks["Liver"] | masks["Tumor 1"] | masks["HCC lesion 2"]
    assert att[~drawn].max() == 0 and att[drawn].min() > 0  # attention lies exactly on the segmented anatomy
    # the larger synthetic tumour's graph point is at its centroid (RAS) on the CT
    k, j, i = np.argwhere(masks["Tumor 1"]).mean(0)
    ras = (ijk_to_ras_matrix(ct) @ np.array([i, j, k, 1.0]))[:3]
    p = [0.0, 0.0, 0.0]
    out["graph"].GetNthControlPointPosition(1, p)
    np.testing.assert_allclose(p, ras, atol=0.05)
    np.testing.assert_allclose(p, lps_to_ras(prediction["nodes"][1]["centroid_lps_mm"]), atol=1e-6)
    probs = [out["grades"].GetTable().GetValueByName(r, "Probability").ToDouble() for r in range(3)]
    assert abs(sum(probs) - 1) < 1e-4
    _check_overlay_picture(scene, ct, out, att, tmp_path)


def _colour_pixels(rgb: np.ndarray) -> np.ndarray:
    """Where a picture is coloured (not a grey of the CT, the text or the white background)."""
    return rgb.max(-1) - rgb.min(-1) > 0.08


def _check_overlay_picture(scene, ct, out, att, tmp_path):
    """The picture read back: its size is the figure's; against the same slice drawn with a zero attention
    map, the attention colours are drawn and only there, over at least a pixel per voxel of attention, and
    the graph's points near the slice are circled in the marker colour."""
    zero = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "no attention")
    update_volume_from_sitk(zero, volume_to_sitk(out["attention"]) * 0)
    zero.CreateDefaultDisplayNodes()
    zero.GetDisplayNode().SetAndObserveColorNodeID(out["attention"].GetDisplayNode().GetColorNodeID())
    k = int(np.argmax((att > 0).sum(axis=(1, 2))))  # the slice with the most attention
    pictures = [imread(render_overlay_png(ct, node, out["graph"], tmp_path / f"{i}.png", "grade", slice_k=k))
                for i, node in enumerate((out["attention"], zero))]
    drawn, plain = (p[..., :3] for p in pictures)
    assert pictures[0].shape == pictures[1].shape == (round(5.6 * 110), round(6.4 * 110), 4)  # figsize × dpi, RGBA
    changed = np.abs(drawn - plain).max(-1) > 0.02
    assert changed.sum() >= (att[k] > 0).sum() > 0, (changed.sum(), (att[k] > 0).sum())
    assert (_colour_pixels(drawn) & changed).sum() >= 0.9 * changed.sum()  # the overlay is in colour …
    # … over the grey CT: where it changed, the zero-attention picture is grey but for the point markers'
    # anti-aliased edges (the colour bar, the same in both, is not touched)
    assert (_colour_pixels(plain) & changed).sum() < 0.01 * changed.sum()
    marker = np.abs(drawn - np.array([0x33, 0xE6, 0xFF]) / 255).max(-1) < 0.03
    assert marker.sum() > 20  # the graph's points near the slice are circled


def test_segmentation_of_another_scan_is_a_geometry_error(scene, real_ct_path, real_seg_nrrd, load_volume, tmp_path):
    import SimpleITK as sitk

    from REACTKDLib.geometry import update_volume_from_sitk

    path, _ = real_seg_nrrd
    ct = load_volume(scene, real_ct_path)
    seg = load_segmentation_file(scene, path)
    far = sitk.Image(20, 20, 20, sitk.sitkInt16)
    far.SetOrigin((5000.0, 5000.0, 5000.0))  # another scan, nowhere near
    other = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "other CT")
    update_volume_from_sitk(other, far)
    liver, tumors = default_segment_choice(segment_names(seg))
    with pytest.raises(ValueError, match="Geometry mismatch"):
        export_inputs(scene, other, seg, [liver], tumors, tmp_path / "job")
    with pytest.raises(ValueError, match="No liver segment selected"):
        export_inputs(scene, ct, seg, [], tumors, tmp_path / "job")
    with pytest.raises(ValueError, match="both as liver and as tumour"):
        export_inputs(scene, ct, seg, [liver], [liver], tmp_path / "job")
