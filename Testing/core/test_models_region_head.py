"""The region-aware head: pooled over tumours and liver, needs ROI masks, usable by every caller."""

import pytest
import torch

from reactkd.distill import build_distiller
from reactkd.models import BackboneOutput, RegionHead, Student, build_student, build_teacher, features_from_batch
from reactkd.models.region_head import roi_geometry
from reactkd.utils.typed import ConfigError

REGION = {"kind": "region"}


def _masks(b=2, r=3, s=16):
    m = torch.zeros(b, r, s, s, s)
    m[:, 0, 2:14, 2:14, 2:14] = 1  # liver
    m[0, 1, 4:8, 4:8, 4:8] = 1  # a tumour in case 0 only; case 1 is liver-only (zero padding)
    return m


def test_region_head_embedding_is_tumour_and_contrast():
    head = RegionHead(["fused"], [4])
    fused = torch.zeros(2, 4, 4, 4, 4)
    fused[:, :, 1, 1, 1] = 2.0  # the tumour's feature-map voxel (mask voxels 4..7 → index 1 at 4³)
    masks = _masks()
    out = BackboneOutput([], fused, torch.zeros(2, 1, 16, 16, 16))
    emb, logits = head(out, masks)
    assert emb.shape == (2, 8) and logits.shape == (2, 3)
    assert torch.allclose(emb[0, :4], torch.full((4,), 2.0))  # tumour pooled
    assert torch.all(emb[0, 4:] > 0)  # tumour brighter than its liver
    assert torch.allclose(emb[1, 4:], torch.zeros(4))  # no tumour: the contrast term is 0
    with pytest.raises(ValueError, match="pass `roi_masks`"):
        head(out, None)
    with pytest.raises(ValueError, match=r"`roi_masks` must be \(B=2"):
        head(out, masks[:1])


def test_student_and_teacher_with_region_heads_train_through_a_distiller():
    torch.manual_seed(0)
    teacher = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=(1, 1, 1, 1), head=REGION)
    student = build_student(teacher=teacher, init_filters=8, pet_channels=2, head=REGION, blocks_down=(1, 1, 1, 1))
    s = 32
    batch = {"ct": torch.randn(2, 1, s, s, s), "pet": torch.randn(2, 2, s, s, s),
             "ct_lowdose": torch.randn(2, 1, s, s, s),
             "pet_present": torch.ones(2, 2, dtype=torch.bool), "roi_masks": _masks(s=s),
             "roi_valid": torch.tensor([[True, True, False], [True, False, False]]), "label": torch.tensor([0, 2])}
    teacher.requires_grad_(False).eval()
    assert features_from_batch(teacher, batch).embedding.shape == (2, 32)
    distiller = build_distiller("reactkd", student, teacher)
    distiller.train()
    _, losses = distiller(batch)
    sum(losses.values()).backward()
    assert student.head.fc.weight.grad is not None and student.head.fc.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pass `roi_masks`"):
        student(torch.randn(1, 3, s, s, s), torch.ones(1, 2, dtype=torch.bool))


def test_unknown_head_is_refused():
    with pytest.raises(ConfigError,
                       match=r"`student.head.kind` must be one of \['gap', 'graph', 'region'\], got 'mlp'"):
        Student(head={"kind": "mlp"})
    with pytest.raises(ConfigError, match=r"unknown config key `student.head.pool` for `kind: region`; allowed: "
                                          r"\['kind', 'sources', 'geometry', 'dropout', 'norm', 'statistics'\]"):
        Student(head={"kind": "region", "pool": ["fused"]})


def test_roi_input_channels_are_appended_and_never_gated():
    torch.manual_seed(0)
    s = 16
    student = Student(pet_channels=2, init_filters=8, fusion_channels=16, roi_channels=True)
    assert student.in_channels == 5
    batch = {"ct": torch.randn(2, 1, s, s, s), "pet": torch.randn(2, 2, s, s, s), "roi_masks": _masks(s=s),
             "pet_present": torch.ones(2, 2, dtype=torch.bool),
             "modality_mask": torch.tensor([[True, False], [True, True]])}
    student.eval()
    x, mask, _ = student.inputs(batch)
    assert x.shape == (2, 5, s, s, s)
    assert torch.equal(x[:, 3], batch["roi_masks"][:, 0]) and torch.equal(x[0, 4], batch["roi_masks"][0, 1])
    gated = student.backbone.stem(x, mask)
    assert torch.all(gated[0, 1:3] == 0) and torch.equal(gated[0, 3:5], x[0, 3:5])  # PET blanked, ROIs kept
    teacher = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=(1, 1, 1, 1), roi_channels=True)
    tb = {**batch, "ct": torch.randn(2, 1, 32, 32, 32), "pet": torch.randn(2, 2, 32, 32, 32),
          "ct_lowdose": torch.randn(2, 1, 32, 32, 32), "roi_masks": _masks(s=32)}
    assert teacher.inputs(tb).x.shape[1] == teacher.in_channels == 3 + 2 + 1 + 2


def test_multi_scale_head_pools_a_fine_map_where_the_fused_map_blurs_the_tumour():
    head = RegionHead(["fused", "level0"], [4, 2])
    fused = torch.zeros(2, 4, 2, 2, 2)  # stride 8: the 4³-voxel tumour is a fraction of one voxel
    fine = torch.zeros(2, 2, 16, 16, 16)
    fine[:, :, 4:8, 4:8, 4:8] = 3.0  # exactly the tumour at input resolution
    emb, logits = head(BackboneOutput([fine], fused, fine), _masks())
    assert emb.shape == (2, 2 * (4 + 2)) and logits.shape == (2, 3)
    assert torch.allclose(emb[0, 8:10], torch.full((2,), 3.0))  # tumour pooled on the fine map
    assert torch.all(emb[0, 10:] > 2.5)  # its contrast to the liver survives


def test_head_levels_on_teacher_and_student():
    t = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=[1, 1, 1, 1], fusion_level=2,
                      head={"kind": "region", "sources": ["fused", "level0"]})
    s = build_student(teacher=t, init_filters=8, pet_channels=2, blocks_down=[1, 1, 1],
                      head={"kind": "region", "sources": ["fused", "level0", "level1"]})
    batch = {"ct": torch.randn(2, 1, 32, 32, 32), "pet": torch.randn(2, 2, 32, 32, 32),
             "ct_lowdose": torch.randn(2, 1, 32, 32, 32), "roi_masks": _masks(s=32),
             "pet_present": torch.ones(2, 2, dtype=torch.bool)}
    assert features_from_batch(t, batch).embedding.shape == (2, 2 * (16 + 24))  # two branches of 12 at level 0
    assert features_from_batch(s, batch).embedding.shape == (2, 2 * (16 + 8 + 16))
    with pytest.raises(ConfigError, match=r"unknown config key `student.head.sources` for `kind: gap` \(a key of "
                                          r"`kind: graph`, `kind: region`\)"):
        Student(head={"kind": "gap", "sources": ["fused", "level0"]})
    with pytest.raises(ConfigError, match=r"`student.head.sources` must be encoder levels in level0\.\.level2"):
        Student(head={"kind": "region", "sources": ["fused", "level3"]}, blocks_down=[1, 1, 1])
    with pytest.raises(ConfigError, match=r"`student.head.sources` must be distinct names"):
        Student(head={"kind": "region", "sources": ["fused", "fused"]})


def test_head_input_pools_the_inputs_roi_statistics():
    """With ``input`` among the sources the embedding holds, after the fused map's, the ROI means of the input
    itself: a CT whose tumour is darker than its liver shows a negative CT contrast, and a blanked PET pools to
    exactly 0."""
    s = Student(init_filters=8, fusion_channels=16, pet_channels=2, blocks_down=[1, 1, 1],
                head={"kind": "region", "sources": ["fused", "input"], "norm": "none"}).eval()
    masks = _masks(s=32)
    tumour = masks[:, 1:].sum(1, keepdim=True) > 0
    ct = torch.where(tumour, 0.4, 0.5).expand(2, 1, 32, 32, 32).clone()
    pet = torch.rand(2, 2, 32, 32, 32)
    present = torch.tensor([[True, False], [True, True]])
    x = torch.cat([ct, pet], 1)
    emb = s.forward_features(x, present, masks).embedding
    width = s.in_channels + 2  # CT, 2 PET, 2 modality indicators
    assert emb.shape == (2, 2 * (16 + width))
    tumour_means, contrast = emb[:, 32:32 + width], emb[:, 32 + width:32 + 2 * width]  # after the fused map's 2 × 16
    assert torch.isclose(tumour_means[0, 0], torch.tensor(0.4))
    liver_mean = (0.4 * 4**3 + 0.5 * (12**3 - 4**3)) / 12**3  # liver ⊃ tumour
    assert torch.isclose(contrast[0, 0], torch.tensor(0.4 - liver_mean))
    assert torch.all(tumour_means[0, 1:3] == 0), "the blanked PET of case 0 must pool to 0"
    assert tumour_means[0, 4] == 0 and tumour_means[1, 4] == 1, "the PET indicator tells the head what it got"
    t = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=[1, 1, 1, 1], fusion_level=2,
                      head={"kind": "region", "sources": ["fused", "input"]}, roi_channels=True)
    batch = {"ct": ct, "pet": pet, "ct_lowdose": ct, "roi_masks": masks}
    assert features_from_batch(t, batch).embedding.shape == (2, 2 * (16 + t.in_channels))


def test_roi_geometry_counts_tumours_burden_and_spread():
    m = torch.zeros(3, 4, 16, 16, 16)
    m[:, 0, 0:8, 0:8, 0:8] = 1  # liver of 512 voxels, size 8
    m[0, 1, 1:3, 1:3, 1:3] = 1  # case 0: one tumour of 8 voxels
    m[1, 1, 1:3, 1:3, 1:3] = 1  # case 1: that tumour plus one 4 voxels away (largest first) ...
    m[1, 2, 5:6, 1:3, 1:3] = 1  # ... of 4 voxels
    # case 2: liver only, zero-padded nodes
    g = roi_geometry(m)
    assert g.shape == (3, 3)
    assert torch.allclose(g[:, 0], torch.log1p(torch.tensor([1.0, 2.0, 0.0])))
    assert torch.isclose(g[0, 1], torch.log(torch.tensor(8 / 512 + 1e-3)))
    assert torch.isclose(g[1, 1], torch.log(torch.tensor(12 / 512 + 1e-3)))
    assert g[0, 2] == 0 and g[2, 2] == 0, "one tumour or none: no spread"
    assert torch.isclose(g[1, 2], torch.tensor(3.5 / 8)), "centroid distance 3.5 voxels over the liver's size 8"
    s = Student(init_filters=8, fusion_channels=16, blocks_down=[1, 1, 1], head={"kind": "region", "geometry": True})
    assert s.head.fc.in_features == 2 * 16 + 3
    assert s(torch.randn(3, 1, 16, 16, 16), roi_masks=m).shape == (3, 3)
    with pytest.raises(ConfigError, match="unknown config key `student.head.geometry` for `kind: gap`"):
        Student(head={"kind": "gap", "geometry": True})
