"""Baseline feature losses: attention transfer, cross-image relations, affinity, ROI-weighted MSE, and the
multi-scale MS-SARD / MS-CA sums shared by the classification baselines and the segmentation distillers."""

import pytest
import torch

from reactkd.losses import (
    affinity_alignment_loss,
    attention_map,
    attention_transfer_loss,
    cross_image_relation_loss,
    in_teacher_rms_units,
    ms_ca_loss,
    ms_sard_loss,
    region_weight_map,
    region_weighted_feature_loss,
    resize_to,
    sampled_affinity_alignment_loss,
    scale_sum,
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


def _levels(seed=0):
    g = torch.Generator().manual_seed(seed)
    students = [torch.randn(2, 4, 8, 8, 8, generator=g), torch.randn(2, 4, 2, 2, 2, generator=g)]
    teachers = [torch.randn(2, 4, 8, 8, 8, generator=g), torch.randn(2, 4, 4, 4, 4, generator=g)]
    maps = [torch.rand(2, 1, *t.shape[2:], generator=g) for t in teachers]
    return students, teachers, [m / m.flatten(1).sum(1)[:, None, None, None, None] for m in maps]


def test_scale_sum_weights_levels_and_names_a_mismatch():
    losses = [torch.tensor(1.0), torch.tensor(3.0)]
    assert float(scale_sum(losses)) == 2.0 and float(scale_sum(losses, [0.25, 0.75])) == 2.5
    with pytest.raises(ValueError, match="`scale_weights` has 1 values for 2 levels"):
        scale_sum(losses, [1.0])
    with pytest.raises(ValueError, match="at least one level"):
        scale_sum([])


def test_ms_sard_is_the_weighted_sum_of_per_level_region_losses_on_the_teacher_grid():
    students, teachers, maps = _levels()
    per_level = [region_weighted_feature_loss(resize_to(s, t.shape[2:]), t, w)
                 for s, t, w in zip(students, teachers, maps)]
    assert (resize_to(students[1], (4, 4, 4)).shape == (2, 4, 4, 4, 4)
            and resize_to(students[0], (8, 8, 8)) is students[0])
    torch.testing.assert_close(ms_sard_loss(students, teachers, maps), (per_level[0] + per_level[1]) / 2)
    torch.testing.assert_close(ms_sard_loss(students, teachers, maps, [0.2, 0.8]),
                               0.2 * per_level[0] + 0.8 * per_level[1])
    assert float(ms_sard_loss(teachers, teachers, maps)) == 0.0
    with pytest.raises(ValueError, match="one student map, teacher map and weight map per level"):
        ms_sard_loss(students, teachers, maps[:1])


def test_teacher_rms_units_make_the_loss_scale_free():
    students, teachers, maps = _levels()
    s, t = in_teacher_rms_units(students[0], teachers[0])
    assert t.pow(2).mean(dim=(1, 2, 3, 4)).sqrt() == pytest.approx(1.0, rel=1e-5)
    s10, t10 = in_teacher_rms_units(10 * students[0], 10 * teachers[0])
    torch.testing.assert_close(ms_sard_loss([s10], [t10], maps[:1]), ms_sard_loss([s], [t], maps[:1]))


def test_ms_ca_pooled_or_sampled_positions():
    students, teachers, _ = _levels()
    pooled = [affinity_alignment_loss(s, t, 3) for s, t in zip(students, teachers)]
    torch.testing.assert_close(ms_ca_loss(students, teachers, grid=3), (pooled[0] + pooled[1]) / 2)
    # Sampled: the student is brought to the teacher's grid, the draws follow the generator.
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    sampled = [sampled_affinity_alignment_loss(resize_to(s, t.shape[2:]), t, 16, None, g1)
               for s, t in zip(students, teachers)]
    got = ms_ca_loss(students, teachers, [0.5, 0.5], num_positions=16, generator=g2)
    torch.testing.assert_close(got, 0.5 * sampled[0] + 0.5 * sampled[1])
    with pytest.raises(ValueError, match="`sampling_weights` has 1 entries for 2 levels"):
        ms_ca_loss(students, teachers, num_positions=16, sampling_weights=[None])
