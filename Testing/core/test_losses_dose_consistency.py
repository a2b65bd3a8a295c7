"""Dose consistency (native CT vs its simulated low dose, region-graph nodes): values, gradients, masks,
node order, stop-gradient, errors."""

import pytest
import torch

from reactkd.graph import region_nodes
from reactkd.losses.dose_consistency import ConsistencyTarget, DoseConsistencyLoss, dose_consistency_loss


def _nodes(seed=0, shape=(2, 4, 8)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)  # (B, R, C)


VALID = torch.tensor([[True, True, True, False], [True, True, False, False]])  # (B, R)


def test_zero_when_both_views_agree_and_scale_free():
    n = _nodes()
    assert dose_consistency_loss(n, n.clone(), VALID).item() == pytest.approx(0.0, abs=1e-6)
    # cosine nodes and cosine adjacency: a view that is a positive multiple of the other agrees
    assert dose_consistency_loss(n, 2.5 * n, VALID).item() == pytest.approx(0.0, abs=1e-6)


def test_positive_and_hand_computed_for_opposite_views():
    n = _nodes()
    # node term: cos = -1 on every real node -> 2; adjacency of -n equals that of n -> edge term 0
    assert dose_consistency_loss(n, -n, VALID).item() == pytest.approx(2.0, abs=1e-5)
    low = n + 0.5 * _nodes(1)
    assert dose_consistency_loss(n, low, VALID).item() > 0.01


def test_edge_term_hand_computed_on_two_nodes():
    # one case, two 2-d nodes: native orthogonal (A01 = 0), low dose identical directions (A01 = 1)
    native = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    low = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    node = (0.0 + 1.0) / 2  # 1 - cos per node: 0 and 1
    edge = (1.0 ** 2 + 1.0 ** 2) / 2  # pairs (0,1) and (1,0)
    assert dose_consistency_loss(native, low, valid, edge_weight=0.0).item() == pytest.approx(node, abs=1e-6)
    assert dose_consistency_loss(native, low, valid, edge_weight=0.5).item() == pytest.approx(node + 0.5 * edge,
                                                                                              abs=1e-6)


def test_differentiable_and_stop_gradient_on_the_native_view():
    native = _nodes().requires_grad_(True)
    low = (_nodes() + 0.3 * _nodes(2)).requires_grad_(True)
    loss = dose_consistency_loss(native, low, VALID)
    loss.backward()
    assert low.grad is not None and low.grad[VALID].abs().sum() > 0
    assert native.grad is None  # the native view is the target
    native.grad, low.grad = None, None
    dose_consistency_loss(native, low, VALID, target="symmetric").backward()
    assert native.grad is not None and native.grad[VALID].abs().sum() > 0


def test_symmetric_target_gives_the_same_value():
    native, low = _nodes(), _nodes(3)
    assert dose_consistency_loss(native, low, VALID, target=ConsistencyTarget.SYMMETRIC).item() == pytest.approx(
        dose_consistency_loss(native, low, VALID).item())
    assert dose_consistency_loss(low, native, VALID, target="symmetric").item() == pytest.approx(
        dose_consistency_loss(native, low, VALID).item(), abs=1e-6)


def test_invariant_to_joint_node_order_but_not_to_one_view_shuffled():
    native, low = _nodes(), _nodes() + 0.4 * _nodes(4)
    valid = torch.ones(2, 4, dtype=torch.bool)
    base = dose_consistency_loss(native, low, valid).item()
    perm = torch.tensor([2, 0, 3, 1])
    assert dose_consistency_loss(native[:, perm], low[:, perm], valid[:, perm]).item() == pytest.approx(base, abs=1e-6)
    # correspondence matters: shuffling one view's nodes only is a different graph pairing
    assert dose_consistency_loss(native, low[:, perm], valid).item() > base + 0.1


def test_padding_nodes_never_count():
    native, low = _nodes(), _nodes() + 0.2 * _nodes(5)
    base = dose_consistency_loss(native, low, VALID).item()
    garbage = low.clone()
    garbage[~VALID] = 100.0 * _nodes(6)[~VALID]
    assert dose_consistency_loss(native, garbage, VALID).item() == pytest.approx(base, abs=1e-6)
    none = torch.zeros_like(VALID)
    loss = dose_consistency_loss(native, low.requires_grad_(True), none)
    assert loss.item() == 0.0 and loss.requires_grad


def test_from_feature_maps_pooled_over_roi_masks():
    """The way training uses it: nodes pooled from two views' feature maps over the same ROI masks."""
    torch.manual_seed(0)
    feats = torch.randn(1, 6, 4, 4, 4)  # (B, C, d, h, w)
    masks = torch.zeros(1, 3, 8, 8, 8)  # (B, R, D, H, W): liver, tumour, padding
    masks[0, 0, :, :, :4] = 1
    masks[0, 1, 2:4, 2:4, 4:6] = 1
    valid = masks.flatten(2).sum(2) > 0
    outside = feats.clone()
    outside[..., :, :, 3] += 5.0  # changes only feature voxels no ROI covers
    assert dose_consistency_loss(region_nodes(feats, masks), region_nodes(outside, masks), valid).item() == \
        pytest.approx(0.0, abs=1e-5)
    inside = feats.clone()
    inside[..., 1] += torch.randn(1, 6, 4, 4)
    assert dose_consistency_loss(region_nodes(feats, masks), region_nodes(inside, masks), valid).item() > 1e-3


def test_keeps_dtype_and_module_matches_function():
    native, low = _nodes().double(), _nodes(7).double()
    assert dose_consistency_loss(native, low, VALID).dtype == torch.float64
    loss = DoseConsistencyLoss(edge_weight=0.25)
    assert loss(native, low, VALID).item() == pytest.approx(
        dose_consistency_loss(native, low, VALID, edge_weight=0.25).item())


@pytest.mark.parametrize("kwargs, match", [
    ({"edge_weight": -1.0}, "`edge_weight` must be a finite number >= 0, got -1.0"),
    ({"edge_weight": float("nan")}, "`edge_weight` must be a finite number >= 0"),
    ({"target": "lowdose"}, r"`target` must be one of \['native', 'symmetric'\], got 'lowdose'"),
])
def test_bad_options_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DoseConsistencyLoss(**kwargs)
    with pytest.raises(ValueError, match=match):
        dose_consistency_loss(_nodes(), _nodes(), VALID, **kwargs)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"`native_nodes` \(2, 4, 8\) and `lowdose_nodes` \(2, 4, 6\)"):
        dose_consistency_loss(_nodes(), _nodes(shape=(2, 4, 6)), VALID)
    with pytest.raises(ValueError, match="bool valid mask"):
        dose_consistency_loss(_nodes(), _nodes(), VALID.float())
