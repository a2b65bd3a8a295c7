"""`reactkd segment`: masks on the CT's own grid, and a .seg.nrrd that round-trips with segment names."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
import slicerio
import torch

from conftest import ball, make_image
from reactkd.cli import main
from reactkd.io import read_mask, same_grid
from reactkd.segment import SegNet
from reactkd.segment.inference import seg_metadata
from reactkd.segment.preprocess import SegPreprocess
from reactkd.segment.writer import write_masks
from reactkd.train.checkpoint import save_checkpoint


def _labels():
    shape = (20, 24, 28)
    labels = np.zeros(shape, np.uint8)
    labels[ball(shape, (10, 12, 14), 8)] = 1
    labels[ball(shape, (10, 10, 12), 3)] = 2
    return make_image(labels, spacing=(1.5, 1.2, 2.5), origin=(-40.0, 12.0, -100.0),
                      direction=[[0, 1, 0], [1, 0, 0], [0, 0, -1]])


def test_seg_nrrd_round_trips_through_slicerio_with_segment_names(tmp_path):
    labels = _labels()
    paths = write_masks(labels, tmp_path)
    arr = sitk.GetArrayFromImage(labels)
    seg = slicerio.read_segmentation(str(paths["seg_nrrd"]))
    assert [s["name"] for s in seg["segments"]] == ["liver", "tumor"]
    liver_ijk = slicerio.segment_mask(seg, seg["segments"][0])
    np.testing.assert_array_equal(liver_ijk.transpose(2, 1, 0), arr > 0)  # the liver includes its tumours
    # What `reactkd predict` reads: by segment name, on the CT grid; same as the NIfTI masks.
    for role, expected in (("liver", arr > 0), ("tumor", arr == 2)):
        mask = read_mask(paths["seg_nrrd"], role=role, reference=labels)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(mask), expected)
        nifti = sitk.ReadImage(str(paths[role]))
        assert same_grid(nifti, labels)
        np.testing.assert_array_equal(sitk.GetArrayFromImage(nifti), expected)


def _checkpoint(path):
    torch.manual_seed(0)
    net = SegNet("segresnet", init_filters=4, blocks_down=[1, 1], blocks_up=[1])
    with torch.no_grad():  # a model that calls every voxel "liver", so the masks are not empty
        net.net.conv_final[-1].conv.bias.copy_(torch.tensor([0.0, 50.0, 0.0]))
    save_checkpoint(path, {"model": net.state_dict()}, seg_metadata("seg_student", net, SegPreprocess(6.0), 16, 0.0))
    return path


def test_segment_writes_masks_on_the_ct_grid(tmp_path, real_dir):
    ct_path = real_dir / "totalsegmentator" / "example_ct_sm.nii.gz"
    if not ct_path.is_file():
        pytest.skip(f"{ct_path} not found")
    ckpt = _checkpoint(tmp_path / "seg.pt")
    assert main(["segment", "--model", str(ckpt), "--ct", str(ct_path), "--out", str(tmp_path / "out")]) == 0
    ct = sitk.ReadImage(str(ct_path))
    for name in ("liver.nii.gz", "tumor.nii.gz"):
        mask = sitk.ReadImage(str(tmp_path / "out" / name))
        assert same_grid(mask, ct) and mask.GetPixelID() == sitk.sitkUInt8
    liver = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out" / "liver.nii.gz")))
    assert liver.all()
    summary = json.loads((tmp_path / "out" / "segment.json").read_text())
    assert summary["kind"] == "seg_student" and summary["liver_ml"] > 0
    seg = read_mask(tmp_path / "out" / "segmentation.seg.nrrd", role="liver", reference=ct)
    assert same_grid(seg, ct)


def test_segment_refuses_a_grading_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "grading.pt"
    save_checkpoint(ckpt, {"model": {}}, {"kind": "student"})
    ct = tmp_path / "ct.nii.gz"
    sitk.WriteImage(make_image(np.zeros((8, 8, 8), np.int16)), str(ct))
    assert main(["segment", "--model", str(ckpt), "--ct", str(ct), "--out", str(tmp_path / "o")]) == 2
    assert "not a segmentation model" in capsys.readouterr().err
