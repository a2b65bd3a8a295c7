"""Baseline feature losses: attention transfer, cross-image relations, affinity, ROI-weighted MSE."""

import pytest
import torch

from reactkd.losses import (
    affinity_alignment_loss,
    attention_map,
    attention_transfer_loss,
    cross_image_relation_loss,
    region_weight_map,
    region_weighted_feature_loss,
)


def test_attention_map_is_unit_norm_and_resizes():
    torch.manual_seed(0)
    a = attention_map(torch.randn(2, 4, 4, 4, 4), size=(2, 2, 2))
    assert a.shape == (2, 8)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(2))


def test_attention_transfer_zero_for_same_attention_any_width():
    torch.manual_seed(0)
    f = torch.randn(2, 3, 4, 4, 4)
    # a student with 6 channels whose channel-mean of squares equals the teacher's
    s = torch.cat([f, f], dim=1).requires_grad_()
    assert attention_transfer_loss(s, f).item() == pytest.approx(0.0, abs=1e-10)
    loss = attention_transfer_loss(s, torch.randn(2, 5, 2, 2, 2))  # teacher at half resolution
    loss.backward()
    assert loss.item() > 0 and s.grad is not None


def test_cross_image_relation_zero_for_identical_and_positive_otherwise():
    torch.manual_seed(0)
    t = torch.randn(2, 8, 4, 4, 4)
    assert cross_image_relation_loss(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(2, 8, 4, 4, 4, requires_grad=True)
    loss = cross_image_relation_loss(s, t)
    loss.backward()
    assert loss.item() > 0 and bool(torch.isfinite(s.grad).all())
    with pytest.raises(ValueError, match="project the student"):
        cross_image_relation_loss(torch.randn(2, 4, 4, 4, 4), t)


def test_affinity_alignment_scale_free_and_width_free():
    torch.manual_seed(0)
    t = torch.randn(2, 8, 4, 4, 4)
    q, _ = torch.linalg.qr(torch.randn(8, 8))
    rotated = torch.einsum("bcdhw,ce->bedhw", t, q) * 3.0
    assert affinity_alignment_loss(rotated, t).item() == pytest.approx(0.0, abs=1e-6)
    assert affinity_alignment_loss(torch.randn(2, 3, 8, 8, 8), t).item() > 0


def test_region_weights_equal_per_roi_and_sum_to_one():
    masks = torch.zeros(1, 3, 8, 8, 8)
    masks[0, 0, :6, :6, :6] = 1  # liver, 216 voxels
    masks[0, 1, 0, 0, 0] = 1  # 1-voxel tumour
    valid = torch.tensor([[True, True, False]])
    w = region_weight_map(masks, valid, (8, 8, 8), background_weight=0.0)
    assert w.shape == (1, 1, 8, 8, 8) and w.sum().item() == pytest.approx(1.0)
    liver_only = masks[0, 0].bool().clone()
    liver_only[0, 0, 0] = False
    # the tumour's voxel carries its own 1/2 plus a liver voxel's 1/2 · 1/216
    assert w[0, 0, 0, 0, 0].item() == pytest.approx(0.5 + 0.5 / 216, rel=1e-5)
    assert w[0, 0][liver_only].sum().item() == pytest.approx(0.5 * 215 / 216, rel=1e-5)
    with pytest.raises(ValueError, match="background_weight"):
        region_weight_map(masks, valid, (8, 8, 8), background_weight=-1)


def test_region_weighted_feature_loss():
    s, t = torch.zeros(1, 2, 2, 2, 2), torch.ones(1, 2, 2, 2, 2)
    w = torch.full((1, 1, 2, 2, 2), 1 / 8)
    assert region_weighted_feature_loss(s, t, w).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="weights"):
        region_weighted_feature_loss(s, t, w[:, :, :1])
