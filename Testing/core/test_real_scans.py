"""Real anatomy: TotalSegmentator's abdominal CT (liver = label 5) and dcmqi's DICOM CT + DICOM SEG."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from conftest import make_image
from reactkd.cli import main
from reactkd.io import load_case
from reactkd.preprocess import preprocess_case, region_graph

pytestmark = pytest.mark.real


def _ts(real_dir):
    d = real_dir / "totalsegmentator"
    return d / "example_ct_sm.nii.gz", f"{d / 'example_seg.nii.gz'}:5"


def test_liver_volume_and_world_centroid_survive_preprocessing(real_dir):
    ct, liver = _ts(real_dir)
    case = load_case(ct, liver, case_id="ts")
    raw = sitk.GetArrayFromImage(case.liver).astype(bool)
    assert raw.sum() * 27 / 1000 == pytest.approx(1043, rel=0.01)  # README: about 1043 ml
    mi = preprocess_case(case)
    node = mi.nodes[0]
    assert node["volume_ml"] == pytest.approx(1043, rel=0.02)
    frac = mi.roi_masks[0]
    volume = frac.sum() * np.prod(mi.grid.spacing) / 1000
    assert volume == pytest.approx(node["volume_ml"], rel=0.01)
    idx = (np.argwhere(frac > 0) * frac[frac > 0][:, None]).sum(0) / frac.sum()
    world = mi.grid.reference().TransformContinuousIndexToPhysicalPoint(idx[::-1].tolist())
    assert np.linalg.norm(np.subtract(world, node["centroid_lps_mm"])) < 0.5  # mm
    # the liver sits on the patient's right: negative x in LPS
    assert node["centroid_lps_mm"][0] < 0


def test_synthetic_lesions_in_real_liver_give_expected_nodes(real_dir):
    ct, liver = _ts(real_dir)
    case = load_case(ct, liver, case_id="ts")
    lv = sitk.GetArrayFromImage(case.liver).astype(bool)
    inside = np.argwhere(lv)
    rng = np.random.default_rng(3)
    tumor = np.zeros_like(lv)
    z, y, x = np.ogrid[: lv.shape[0], : lv.shape[1], : lv.shape[2]]
    centers = []
    while len(centers) < 3:  # three separate 2-voxel-radius balls (≈ 0.9 ml each), well apart
        c = inside[rng.integers(len(inside))]
        if all(np.abs(c - o).max() > 6 for o in centers):
            centers.append(c)
            tumor |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= 4
    tumor &= lv
    tumor[tuple(inside[0])] = True  # plus one isolated voxel (0.027 ml), below the 0.1 ml minimum
    tumor_img = make_image(tumor.astype(np.uint8))
    tumor_img.CopyInformation(case.ct)
    case = load_case(case.ct, case.liver, tumor_img, case_id="ts+lesions")
    with pytest.warns(UserWarning, match="dropped 1 tumour component"):
        graph = region_graph(case)
    assert [n.kind for n in graph.nodes] == ["liver"] + ["tumor"] * 3
    with pytest.warns(UserWarning):
        mi = preprocess_case(case)
    assert mi.num_nodes == 4 and all(mi.roi_masks[k].sum() > 0 for k in range(4))


def test_cli_graph_json_on_real_scans(real_dir, capsys):
    ct, liver = _ts(real_dir)
    assert main(["graph", "--ct", str(ct), "--liver", liver, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (node,) = out["nodes"]
    assert set(node) >= {"kind", "voxels", "volume_ml", "centroid_lps_mm"} and node["kind"] == "liver"
    assert len(node["centroid_lps_mm"]) == 3
    d = real_dir / "dcmqi"
    assert main(["graph", "--ct", str(d / "ct-3slice"), "--liver", str(d / "liver.dcm"), "--json"]) == 0
    seg = json.loads(capsys.readouterr().out)["nodes"][0]
    assert main(["graph", "--ct", str(d / "ct-3slice"), "--liver", str(d / "liver_seg.nrrd"), "--json"]) == 0
    nrrd = json.loads(capsys.readouterr().out)["nodes"][0]
    assert seg == nrrd and seg["voxels"] > 100000
