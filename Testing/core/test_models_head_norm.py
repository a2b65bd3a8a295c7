"""``head.norm: batch``: the head's features standardised per feature (batch statistics in training, running
ones at inference), over real graph nodes only; ``none`` leaves the features as they are."""

from dataclasses import dataclass, field

import pytest
import torch

from reactkd.models import (
    BackboneOutput,
    GapHeadSpec,
    GraphHead,
    GraphHeadSpec,
    HeadSpec,
    RegionHeadSpec,
    build_student,
)
from reactkd.models.heads import build_head
from reactkd.models.standardize import Standardize
from reactkd.utils.typed import ConfigError, from_dict

S = 16


@dataclass
class Holder:
    head: HeadSpec = field(default_factory=GapHeadSpec)


def _masks(b=4):
    m = torch.zeros(b, 3, S, S, S)
    m[:, 0, 1:15, 1:15, 1:15] = 1
    m[:, 1, 3:6, 3:6, 3:6] = 1
    m[::2, 2, 9:12, 9:12, 9:12] = 1  # every other case has a second tumour; the rest are zero padding
    return m


def test_standardize_uses_batch_statistics_in_training_and_running_ones_at_inference():
    torch.manual_seed(0)
    norm = Standardize(2, momentum=1.0)  # momentum 1: the running estimates become the last batch's
    x = torch.randn(64, 2) * torch.tensor([0.1, 100.0]) + torch.tensor([5.0, -3.0])
    y = norm.train()(x)
    assert torch.allclose(y.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(y.std(0, unbiased=False), torch.ones(2), atol=1e-2)
    # that batch's statistics (running variance unbiased)
    assert torch.allclose(norm.eval()(x), y, rtol=2e-2, atol=1e-3)
    assert torch.equal(norm.train()(x[:1]), norm.eval()(x[:1]))  # one row: no batch statistics to take


def test_standardize_leaves_unselected_rows_and_counts_only_selected_ones():
    norm = Standardize(1).train()
    x = torch.tensor([[[1.0], [3.0], [1000.0]]])
    keep = torch.tensor([[True, True, False]])
    y = norm(x, keep)
    assert y[0, 2, 0] == 1000.0 and torch.allclose(y[0, :2, 0], torch.tensor([-1.0, 1.0]), atol=1e-3)
    with pytest.raises(ValueError, match="expected 1 features"):
        norm(torch.zeros(2, 3))


def test_region_head_classifies_a_standardised_embedding():
    torch.manual_seed(0)
    spec = RegionHeadSpec(["input"], geometry=True)
    assert spec.norm.value == "batch", "a region head standardises by default"
    head = build_head(spec, {"fused": 4, "input": 2}, 3).train()
    x = torch.rand(4, 2, S, S, S) * 0.05
    out = BackboneOutput([], torch.zeros(4, 4, 4, 4, 4), x)
    emb, logits = head(out, _masks())
    assert emb.shape == (4, 7) and logits.shape == (4, 3)
    varying = emb.std(0, unbiased=False) > 0.5  # constant features stay 0; the others have unit spread
    assert varying.any() and torch.allclose(emb.mean(0), torch.zeros(7), atol=1e-4)
    assert build_head(RegionHeadSpec(["input"], norm="none"), {"input": 2}, 3).norm is None


def test_graph_head_standardises_real_nodes_only_and_stays_invariant_to_padding():
    torch.manual_seed(0)
    widths = [1]
    norm = Standardize(GraphHead.node_feature_size(widths, geometry=True))
    head = GraphHead(["input"], widths, geometry=True, norm=norm).eval()
    x = torch.rand(4, 1, S, S, S)
    out = BackboneOutput([], torch.zeros(4, 4, 4, 4, 4), x)
    masks = _masks()
    head.train()(out, masks)  # moves the running estimates
    head.eval()
    emb, _ = head(out, masks)
    padded = torch.cat([masks, torch.zeros(4, 2, S, S, S)], 1)
    assert torch.allclose(head(out, padded)[0], emb, atol=1e-5)
    assert torch.all(head.norm.running_var != 1)  # the estimates were learnt from the real nodes


def test_norm_spec_is_checked_and_reaches_the_student():
    with pytest.raises(TypeError, match="norm"):
        GapHeadSpec(norm="batch")  # a gap head has no features to standardise: no such field
    with pytest.raises(ConfigError, match="unknown config key `head.norm` for `kind: gap`"):
        from_dict(Holder, {"head": {"kind": "gap", "norm": "batch"}})
    with pytest.raises(ConfigError, match=r"`head.norm` must be one of \['none', 'batch'\], got 'layer'"):
        from_dict(Holder, {"head": {"kind": "region", "sources": ["input"], "norm": "layer"}})
    assert from_dict(Holder, {"head": {"kind": "graph"}}).head == GraphHeadSpec(norm="batch")
    student = build_student(init_filters=8, blocks_down=(1, 1, 1), fusion_channels=8,
                            head={"kind": "region", "sources": ["input"], "norm": "batch"})
    assert isinstance(student.head.norm, Standardize)


def test_grad_cam_of_a_head_over_roi_statistics_is_taken_on_its_input(toy_case_images):
    """A head that never reads the fused map (``sources: [input]``) is attributed on the map it reads."""
    from reactkd.inference.attention import cam_source
    from reactkd.inference.predict import predict_case
    from reactkd.io import load_case
    from reactkd.preprocess import PreprocessConfig

    torch.manual_seed(0)
    meta = {"preprocess": PreprocessConfig(grid_size=32).to_dict()}
    case = load_case(toy_case_images["ct"], toy_case_images["liver"], toy_case_images["tumor"], case_id="toy")
    student = build_student(init_filters=8, blocks_down=(1, 1, 1), fusion_channels=8, roi_channels=True,
                            head={"kind": "region", "sources": ["input"], "geometry": True, "norm": "batch"})
    assert cam_source(student.head) == "input"
    assert cam_source(build_student(init_filters=8, blocks_down=(1, 1, 1), fusion_channels=8,
                                    head={"kind": "region", "sources": ["level0", "fused"]}).head) == "fused"
    result, _ = predict_case(student, meta, case)
    attention = [n["attention"] for n in result["nodes"]]
    assert result["attention_definition"].startswith("Grad-CAM") and sum(attention) == pytest.approx(1, abs=1e-5)
