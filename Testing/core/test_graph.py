"""Region-graph nodes and area-weighted ROI masks."""

import numpy as np
import pytest
import torch

from conftest import ball, make_image
from reactkd.graph import area_resize, extract_regions, masked_average_pool


def _ref(shape=(30, 30, 30), spacing=(2.0, 2.0, 2.0)):
    return make_image(np.zeros(shape, np.int16), spacing=spacing, origin=(-10.0, 20.0, 5.0))


def test_nodes_order_volume_and_centroid():
    shape = (30, 30, 30)
    liver = ball(shape, (15, 15, 15), 12)
    big, small = ball(shape, (10, 12, 14), 4), ball(shape, (20, 18, 16), 2)
    g = extract_regions(liver, big | small, _ref(), "c1")
    assert [n.kind for n in g.nodes] == ["liver", "tumor", "tumor"]
    assert g.nodes[1].voxels == big.sum() and g.nodes[2].voxels == small.sum()
    assert g.nodes[1].volume_ml == pytest.approx(big.sum() * 8 / 1000, abs=1e-3)
    # centroid of the big ball: index (x=14, y=12, z=10) → world origin + 2 mm × index
    assert g.nodes[1].centroid_lps_mm == pytest.approx([-10 + 28, 20 + 24, 5 + 20], abs=1e-3)
    masks = g.roi_masks()
    assert len(masks) == 3 and masks[1].sum() == big.sum()


def test_tiny_components_dropped_and_reported():
    shape = (30, 30, 30)
    liver = ball(shape, (15, 15, 15), 12)
    tumor = ball(shape, (10, 10, 10), 3)
    tumor[22, 22, 22] = True  # 1 voxel = 0.008 ml
    with pytest.warns(UserWarning, match=r"dropped 1 tumour component\(s\) under 0.1 ml"):
        g = extract_regions(liver, tumor, _ref(), "c2")
    assert len(g.nodes) == 2 and g.dropped[0]["voxels"] == 1


def test_corner_touching_lesions_are_one_node_with_26_connectivity():
    shape = (30, 30, 30)
    liver = ball(shape, (15, 15, 15), 14)
    tumor = np.zeros(shape, bool)
    tumor[5:10, 5:10, 5:10] = True
    tumor[10:15, 10:15, 10:15] = True  # touches the first cube at one corner only
    assert len(extract_regions(liver, tumor, _ref(), "c").nodes) == 2
    assert len(extract_regions(liver, tumor, _ref(), "c", connectivity=1).nodes) == 3


def test_empty_tumour_gives_liver_only_graph_and_empty_liver_fails():
    shape = (30, 30, 30)
    liver = ball(shape, (15, 15, 15), 10)
    g = extract_regions(liver, np.zeros(shape, bool), _ref(), "c3")
    assert [n.kind for n in g.nodes] == ["liver"]
    with pytest.raises(ValueError, match="case c4: the liver mask is empty"):
        extract_regions(np.zeros(shape, bool), liver, _ref(), "c4")
    with pytest.raises(ValueError, match="must match the CT array shape"):
        extract_regions(liver[:5], liver, _ref(), "c5")


def test_area_resize_keeps_mass_where_point_sampling_loses_it():
    m = torch.zeros(1, 2, 32, 32, 32)
    m[0, 0, 4:28, 4:28, 4:28] = 1
    m[0, 1, 9, 9, 9] = 1  # a one-voxel tumour at an odd index
    out = area_resize(m, (8, 8, 8))
    assert out.shape == (1, 2, 8, 8, 8)
    assert out[0, 0].sum() * 64 == pytest.approx(24**3)
    assert out[0, 1].sum() * 64 == pytest.approx(1.0)
    nearest = torch.nn.functional.interpolate(m, size=(8, 8, 8), mode="nearest")
    assert nearest[0, 1].sum() == 0  # what area weighting avoids
    assert area_resize(m[0].bool(), (16, 16, 16)).shape == (2, 16, 16, 16)
    with pytest.raises(ValueError, match="must be"):
        area_resize(torch.zeros(3, 3), (2, 2, 2))


def test_masked_average_pool():
    f = torch.arange(2 * 3 * 2 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2, 2)
    w = torch.zeros(2, 2, 2, 2, 2)
    w[:, 0] = 1
    w[0, 1, 0, 0, 0] = 1
    nodes = masked_average_pool(f, w)
    assert nodes.shape == (2, 2, 3)
    torch.testing.assert_close(nodes[:, 0], f.flatten(2).mean(-1), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(nodes[0, 1], f[0, :, 0, 0, 0], rtol=1e-5, atol=1e-4)
    assert torch.all(nodes[1, 1] == 0)  # an empty (padding) node pools to zero
