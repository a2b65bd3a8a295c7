"""ReCo-KD segmentation distillers (MS-SARD, MS-CA) and the losses they are built from."""

import pytest
import torch

from reactkd.distill import DISTILLERS, Distiller
from reactkd.losses import region_weight_map, region_weighted_feature_loss, sampled_affinity_alignment_loss
from reactkd.segment import SegNet, build_seg_student
from reactkd.segment.distill import SEG_DISTILLERS, ContextTerm, RegionTerm, SegDistiller, build_seg_distiller
from reactkd.segment.losses import SegTaskLoss


def _pair():
    torch.manual_seed(0)
    teacher = SegNet("segresnet", init_filters=8, blocks_down=[1, 1, 1], blocks_up=[1, 1])
    return teacher.requires_grad_(False).eval(), build_seg_student(teacher, shrink=1, min_channels=4)


def _batch(size=16):
    seg = torch.zeros(2, 1, size, size, size, dtype=torch.long)
    seg[:, :, 2:14, 2:14, 2:14] = 1  # liver: 1728 voxels
    seg[0, :, 5:7, 5:7, 5:7] = 2  # tumour: 8 voxels, 0.5 % of the liver
    return {"ct": torch.randn(2, 1, size, size, size), "seg": seg}


def test_seg_distillers_have_their_own_registry():
    assert SEG_DISTILLERS.keys() == ["seg_ms_ca", "seg_ms_sard", "seg_reco"]
    assert not [k for k in DISTILLERS.keys() if k.startswith("seg_")]  # classification keys only
    with pytest.raises(ValueError, match="unknown seg distiller 'seg_rec'.*Did you mean 'seg_reco'"):
        build_seg_distiller("seg_rec", None, None)


def test_student_widths_are_scaled_teacher_widths():
    teacher, student = _pair()
    assert student.level_names == teacher.level_names
    assert student.out_channels == [max(4, c // 2) for c in teacher.out_channels]
    assert sum(p.numel() for p in student.parameters()) < sum(p.numel() for p in teacher.parameters()) / 3


@pytest.mark.parametrize("name, terms", [("seg_ms_sard", {"loss_sard"}), ("seg_ms_ca", {"loss_ca"}),
                                         ("seg_reco", {"loss_sard", "loss_ca"})])
def test_terms_shapes_and_gradients_reach_only_the_student(name, terms):
    teacher, student = _pair()
    d = build_seg_distiller(name, student, teacher, levels=["enc4", "dec2", "dec1"])
    logits, losses = d(_batch())
    assert logits.shape == (2, 3, 16, 16, 16)
    assert set(losses) == {"loss_dice", "loss_ce"} | terms
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    for term in terms:
        student.zero_grad()
        losses[term].backward(retain_graph=True)
        grads = [p.grad for n, p in student.named_parameters() if n.startswith("net.down_layers.0")]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), term
    assert all(p.grad is None for p in teacher.parameters())
    d.eval()
    assert d(_batch()).shape == (2, 3, 16, 16, 16)


def test_zero_weight_term_is_not_computed_and_bad_levels_are_named():
    teacher, student = _pair()
    _, losses = build_seg_distiller("seg_reco", student, teacher, ca_weight=0.0)(_batch())
    assert "loss_ca" not in losses and "loss_sard" in losses
    with pytest.raises(ValueError, match="missing: \\['dec16'\\]"):
        build_seg_distiller("seg_ms_sard", student, teacher, levels=["dec16"])
    with pytest.raises(ValueError, match="class_weights"):
        build_seg_distiller("seg_ms_sard", student, teacher, class_weights=[1.0])
    for kwargs, message in (({"ca_weight": -1.0}, "`ca_weight` must be >= 0"),
                            ({"num_positions": 1}, "`num_positions` must be >= 2"),
                            ({"region_sampling": 1.5}, "`region_sampling` must be in \\[0, 1\\]"),
                            ({"kd_weight": -0.1}, "`kd_weight` must be >= 0"),
                            ({"temperature": 0.0}, "`temperature` must be > 0"),
                            ({"sard_weight": 1.0}, "unexpected keyword argument 'sard_weight'")):
        with pytest.raises((ValueError, TypeError), match=message):
            build_seg_distiller("seg_ms_ca", student, teacher, **kwargs)


def test_the_recipes_are_one_distiller_composed_from_terms():
    teacher, student = _pair()
    reco = build_seg_distiller("seg_reco", student, teacher, background_weight=0.2, class_weights=[1.0, 2.0])
    # Not the classification Distiller with parts switched off: task loss + the terms it was given.
    assert isinstance(reco, SegDistiller) and not isinstance(reco, Distiller)
    assert reco.region == RegionTerm(1.0, 0.2, [1.0, 2.0])
    assert reco.context == ContextTerm(1.0, 256, 0.5, 0.2, [1.0, 2.0])
    sard = build_seg_distiller("seg_ms_sard", student, teacher)
    assert sard.context is None and not hasattr(build_seg_distiller("seg_ms_ca", student, teacher), "projectors")
    # Only the student and the projectors learn; built by hand, the same pieces give the same losses.
    assert len(sard.get_learnable_parameters()) == len(list(student.parameters())) + 2 * len(sard.levels)
    torch.manual_seed(3)
    by_name = build_seg_distiller("seg_reco", student, teacher, levels=["enc4", "dec1"], num_positions=16)
    torch.manual_seed(3)
    by_hand = SegDistiller(student, teacher, SegTaskLoss(), RegionTerm(), ContextTerm(num_positions=16),
                           levels=["enc4", "dec1"])
    batch = _batch()
    torch.manual_seed(4)
    _, a = by_name(batch)
    torch.manual_seed(4)
    _, b = by_hand(batch)
    assert list(a) == ["loss_dice", "loss_ce", "loss_sard", "loss_ca"] and all(torch.equal(a[k], b[k]) for k in a)


def test_class_weighting_gives_a_small_tumour_a_real_share_of_the_loss():
    seg = _batch()["seg"][:1]
    masks = torch.stack([(seg[:, 0] == 1), (seg[:, 0] == 2)], 1).float()
    w = region_weight_map(masks, torch.tensor([[True, True]]), (16, 16, 16), 0.1, torch.tensor([1.0, 1.0]))
    tumour_share = float(w[0, 0][seg[0, 0] == 2].sum())
    # 8 of 1736 foreground voxels (0.46 %) but about half of the weight: not drowned by the liver.
    assert 0.4 < tumour_share < 0.5
    # An error confined to the tumour therefore moves the loss as much as one over the whole liver.
    s, t = torch.zeros(1, 4, 16, 16, 16), torch.zeros(1, 4, 16, 16, 16)
    s_tumour, s_liver = s.clone(), s.clone()
    s_tumour[:, :, seg[0, 0] == 2] = 1.0
    s_liver[:, :, seg[0, 0] == 1] = 1.0
    ratio = float(region_weighted_feature_loss(s_tumour, t, w) / region_weighted_feature_loss(s_liver, t, w))
    assert 0.9 < ratio < 1.1
    # Class weights shift the shares; a negative one is refused.
    w2 = region_weight_map(masks, torch.tensor([[True, True]]), (16, 16, 16), 0.1, torch.tensor([1.0, 3.0]))
    assert float(w2[0, 0][seg[0, 0] == 2].sum()) > 0.7
    with pytest.raises(ValueError, match="roi_weights"):
        region_weight_map(masks, torch.tensor([[True, True]]), (16, 16, 16), 0.1, torch.tensor([1.0, -1.0]))


def test_sampled_affinity_alignment():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(2, 4, 8, 8, 8, requires_grad=True)
    assert float(sampled_affinity_alignment_loss(s.detach(), s.detach(), 64, generator=g)) < 1e-10
    t = torch.randn(2, 6, 8, 8, 8)
    loss = sampled_affinity_alignment_loss(s, t, 64, torch.rand(2, 1, 8, 8, 8), generator=g)
    loss.backward()
    assert loss.ndim == 0 and s.grad.abs().sum() > 0
    # Class-balanced sampling: with all weight on 8 positions, those 8 are the ones compared.
    w = torch.zeros(1, 1, 8, 8, 8)
    w[0, 0, :2, :2, :2] = 1.0
    a = sampled_affinity_alignment_loss(s[:1], t[:1], 8, w, generator=g)
    b = sampled_affinity_alignment_loss(s[:1, :, :2, :2, :2], t[:1, :, :2, :2, :2], 8)
    assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="spatial size"):
        sampled_affinity_alignment_loss(s, t[:, :, :4], 16)
