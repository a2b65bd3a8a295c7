"""Region-graph nodes (reactkd.graph) and losses: node/edge alignment, and the Gromov–Wasserstein term against POT."""

import numpy as np
import ot
import pytest
import torch

from reactkd.graph import region_nodes, uniform_patch_masks
from reactkd.losses import (
    edge_alignment_loss,
    graph_cost,
    gromov_wasserstein_discrepancy,
    gw_graph_loss,
    node_alignment_loss,
)

pytestmark = pytest.mark.filterwarnings("error")  # POT warnings (e.g. integer costs) become failures


def test_region_nodes_average_features_over_masks():
    feats = torch.arange(8.0).view(1, 1, 2, 2, 2)  # (B, C, d, h, w)
    masks = torch.zeros(1, 2, 4, 4, 4)  # (B, R, D, H, W): ROI 0 = first feature voxel, ROI 1 = everything
    masks[0, 0, :2, :2, :2] = 1
    masks[0, 1] = 1
    nodes = region_nodes(feats, masks)
    assert nodes.shape == (1, 2, 1)
    assert nodes[0, :, 0].tolist() == pytest.approx([0.0, 3.5], abs=1e-5)


def test_uniform_patches_partition_the_volume():
    m = uniform_patch_masks(2, (4, 6, 5), (2, 3, 1))
    assert m.shape == (2, 6, 4, 6, 5)
    assert bool((m.sum(1) == 1).all()) and m[0].flatten(1).sum(1).tolist() == [20.0] * 6
    with pytest.raises(ValueError, match="grid"):
        uniform_patch_masks(1, (4, 4, 4), (5, 1, 1))


def test_node_and_edge_losses_zero_when_graphs_match_and_ignore_padding():
    torch.manual_seed(0)
    t = torch.randn(2, 4, 8)  # (B, R, C)
    valid = torch.tensor([[True, True, True, False], [True, True, False, False]])
    s = t.clone()
    s[~valid] = torch.randn(int((~valid).sum()), 8)  # padding nodes differ: must not count
    assert node_alignment_loss(s, t, valid).item() == pytest.approx(0.0, abs=1e-6)
    assert edge_alignment_loss(s, 3.0 * t, valid).item() == pytest.approx(0.0, abs=1e-6)  # scale-free
    assert node_alignment_loss(-t, t, valid).item() == pytest.approx(2.0, abs=1e-6)


def test_edge_loss_accepts_different_widths_and_single_node_cases():
    torch.manual_seed(0)
    valid = torch.tensor([[True, False, False]])
    loss = edge_alignment_loss(torch.randn(1, 3, 4, requires_grad=True), torch.randn(1, 3, 9), valid)
    assert loss.item() == 0.0 and loss.requires_grad


def test_gw_equals_pots_value_computed_independently():
    rng = np.random.default_rng(0)
    xs, xt = rng.normal(size=(3, 6)), rng.normal(size=(5, 4))
    c1, c2 = graph_cost(torch.tensor(xs)), graph_cost(torch.tensor(xt))
    ours = gw_graph_loss(torch.tensor(xs)[None], torch.tensor(xt)[None], torch.ones(1, 3, dtype=torch.bool),
                         torch.ones(1, 5, dtype=torch.bool))
    ref = ot.gromov.gromov_wasserstein2(c1.numpy(), c2.numpy(), ot.unif(3), ot.unif(5), loss_fun="square_loss")
    assert ours.item() == pytest.approx(float(ref), rel=1e-6, abs=1e-9)


def test_gw_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    xs = torch.tensor(rng.normal(size=(4, 5)), requires_grad=True)
    xt = torch.tensor(rng.normal(size=(3, 6)))
    ones_s, ones_t = torch.ones(1, 4, dtype=torch.bool), torch.ones(1, 3, dtype=torch.bool)

    def f(x):
        return gw_graph_loss(x[None], xt[None], ones_s, ones_t)

    f(xs).backward()
    eps, fd = 1e-6, torch.zeros_like(xs)
    with torch.no_grad():
        for idx in np.ndindex(*xs.shape):
            d = torch.zeros_like(xs)
            d[idx] = eps
            fd[idx] = (f(xs + d) - f(xs - d)) / (2 * eps)
    torch.testing.assert_close(xs.grad, fd, rtol=1e-4, atol=1e-6)


def test_gw_is_permutation_invariant_and_zero_for_isometric_graphs():
    torch.manual_seed(0)
    s, t = torch.randn(1, 5, 8), torch.randn(1, 5, 3)
    ones = torch.ones(1, 5, dtype=torch.bool)
    perm = torch.tensor([3, 0, 4, 1, 2])
    base = gw_graph_loss(s, t, ones, ones)
    assert gw_graph_loss(s, t[:, perm], ones, ones).item() == pytest.approx(base.item(), rel=1e-6)
    assert gw_graph_loss(s[:, perm], t, ones, ones).item() == pytest.approx(base.item(), rel=1e-6)
    # a rotated copy in a wider space has the same cosine geometry: GW ≈ 0
    q, _ = torch.linalg.qr(torch.randn(8, 8))
    assert gw_graph_loss(s, s @ q, ones, ones).item() == pytest.approx(0.0, abs=1e-6)


def test_gw_one_node_against_five():
    torch.manual_seed(0)
    s, t = torch.randn(1, 1, 4, requires_grad=True), torch.randn(1, 5, 4)
    loss = gw_graph_loss(s, t, torch.ones(1, 1, dtype=torch.bool), torch.ones(1, 5, dtype=torch.bool))
    c2 = graph_cost(t[0])
    # one source node: the plan is q, so GW = Σ_kl C2_kl² q_k q_l
    assert loss.item() == pytest.approx(float((c2**2).mean()), rel=1e-6)
    loss.backward()
    assert bool(torch.isfinite(s.grad).all())


def test_batch_with_different_node_counts_per_case():
    torch.manual_seed(0)
    s = torch.randn(3, 4, 6, requires_grad=True)
    t = torch.randn(3, 4, 10)
    valid = torch.tensor([[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    loss = gw_graph_loss(s, t, valid, valid)
    per_case = [gw_graph_loss(s[b : b + 1, : int(valid[b].sum())], t[b : b + 1, : int(valid[b].sum())],
                              valid[b : b + 1, : int(valid[b].sum())], valid[b : b + 1, : int(valid[b].sum())])
                for b in range(3)]
    assert loss.item() == pytest.approx(sum(x.item() for x in per_case) / 3, rel=1e-6)
    loss.backward()
    assert float(s.grad[0, 1:].abs().sum()) == 0.0  # padding nodes get no gradient


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gw_keeps_dtype_and_device(dtype):
    torch.manual_seed(0)
    c1 = graph_cost(torch.randn(3, 4, dtype=dtype)).requires_grad_()
    c2 = graph_cost(torch.randn(4, 4, dtype=dtype))
    v = gromov_wasserstein_discrepancy(c1, c2)
    assert v.dtype == dtype and v.device == c1.device and v.ndim == 0
    v.backward()
    assert c1.grad.shape == (3, 3)


def test_gw_validation():
    with pytest.raises(ValueError, match="square"):
        gromov_wasserstein_discrepancy(torch.zeros(2, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="sum to 1"):
        gromov_wasserstein_discrepancy(torch.zeros(2, 2), torch.zeros(2, 2), p=torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="valid masks"):
        gw_graph_loss(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), torch.ones(1, 3, dtype=torch.bool),
                      torch.ones(1, 2, dtype=torch.bool))
