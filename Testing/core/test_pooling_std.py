"""The ROI standard-deviation pooling and the region head that reads it (texture, necrosis: what a mean hides)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reactkd.graph import masked_std_pool
from reactkd.models import BackboneOutput, RegionHead, RegionHeadSpec, build_student, build_teacher
from reactkd.utils.typed import ConfigError


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.1, 50.0))
def test_std_pool_is_the_weighted_standard_deviation(seed, scale):
    rng = np.random.default_rng(seed)
    f = rng.normal(3.0, scale, size=(2, 3, 4, 4, 4))
    w = rng.uniform(0, 1, size=(2, 2, 4, 4, 4)) * (rng.uniform(size=(2, 2, 4, 4, 4)) > 0.3)
    got = masked_std_pool(torch.tensor(f, dtype=torch.float32), torch.tensor(w, dtype=torch.float32)).numpy()
    for b in range(2):
        for r in range(2):
            ww, ff = w[b, r].ravel(), f[b].reshape(3, -1)
            mean = (ff * ww).sum(1) / ww.sum()
            want = np.sqrt((ww * (ff - mean[:, None]) ** 2).sum(1) / ww.sum())
            np.testing.assert_allclose(got[b, r], want, rtol=2e-3, atol=2e-3 * scale)


def test_std_pool_of_a_uniform_region_is_zero_with_a_finite_gradient():
    f = torch.full((1, 2, 4, 4, 4), 7.0, requires_grad=True)
    w = torch.zeros(1, 2, 4, 4, 4)
    w[0, 0] = 1  # node 1 is empty (padding)
    s = masked_std_pool(f, w)
    assert s.shape == (1, 2, 2) and torch.all(s < 1e-2)
    s.sum().backward()
    assert torch.isfinite(f.grad).all()
    with pytest.raises(ValueError, match="must share batch and spatial size"):
        masked_std_pool(f, w[..., :2])


def _case(heterogeneous: bool) -> torch.Tensor:
    ct = torch.zeros(1, 1, 16, 16, 16)
    tumour = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(2, 2).repeat(4, 1, 1)  # mean 0, SD 1
    ct[0, 0, 4:8, 4:8, 4:8] = tumour if heterogeneous else 0.0
    return ct


def test_region_head_with_std_tells_a_heterogeneous_tumour_from_a_uniform_one_of_the_same_mean():
    masks = torch.zeros(1, 2, 16, 16, 16)
    masks[:, 0, 2:14, 2:14, 2:14] = 1
    masks[:, 1, 4:8, 4:8, 4:8] = 1
    embeddings = {}
    for stats in (["mean"], ["mean", "std"]):
        head = RegionHead(["input"], [1], statistics=stats)
        emb = [head(BackboneOutput([], torch.zeros(1, 1, 2, 2, 2), _case(h)), masks)[0] for h in (False, True)]
        assert emb[0].shape == (1, 2 * len(stats))
        embeddings[len(stats)] = emb
    torch.testing.assert_close(embeddings[1][0], embeddings[1][1])  # the mean cannot tell them apart
    assert embeddings[2][1][0, 2] > 0.9 > 0.1 > embeddings[2][0][0, 2]  # the tumour's SD can
    with pytest.raises(ValueError, match="`statistics` must be a non-empty list"):
        RegionHead(["input"], [1], statistics=["max"])


def test_statistics_spec_builds_a_wider_head_and_refuses_what_it_cannot_pool():
    teacher = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=(1, 1, 1, 1))
    head = {"kind": "region", "sources": ["input"], "geometry": True, "statistics": ["mean", "std"]}
    student = build_student(teacher=teacher, init_filters=8, pet_channels=0, head=head, blocks_down=(1, 1, 1))
    assert student.head.fc.in_features == 2 * 2 * student.in_channels + 3
    with pytest.raises(ConfigError, match="`statistics` .* distinct names among mean, std"):
        RegionHeadSpec(statistics=["mean", "mean"])
    with pytest.raises(ConfigError, match="unknown config key `student.head.statistics` for `kind: graph`"):
        build_student(init_filters=8, blocks_down=(1, 1, 1), head={"kind": "graph", "statistics": ["mean", "std"]})
