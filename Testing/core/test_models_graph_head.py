"""The graph-readout head: nodes embedded by a shared MLP, tumours read out by gated attention; invariant to
tumour order and zero padding, sensitive to tumour count and spread, usable by teacher, student and distiller."""

import pytest
import torch

from reactkd.distill import DISTILLERS, build_distiller
from reactkd.inference.predict import predict_case
from reactkd.io import load_case
from reactkd.models import BackboneOutput, GraphHead, Student, build_student, build_teacher, features_from_batch
from reactkd.models.graph_head import node_geometry
from reactkd.preprocess import PreprocessConfig
from reactkd.utils.typed import ConfigError

S = 16


def _masks(tumours, b=1, r=4):
    """One liver filling most of the grid, tumour boxes given as (z, y, x) corners of 2³ cubes, zero padding after."""
    m = torch.zeros(b, r, S, S, S)
    m[:, 0, 1:15, 1:15, 1:15] = 1
    for k, (z, y, x) in enumerate(tumours, start=1):
        m[:, k, z:z + 2, y:y + 2, x:x + 2] = 1
    return m


def _out(seed=0, b=1):
    g = torch.Generator().manual_seed(seed)
    fine = torch.randn(b, 3, S, S, S, generator=g)
    fused = torch.randn(b, 4, 4, 4, 4, generator=g)
    return BackboneOutput([fine], fused, fine[:, :1])


def _head(**kw):
    torch.manual_seed(0)
    return GraphHead(["fused", "level0"], [4, 3], geometry=True, **kw).eval()


def test_tumour_order_and_zero_padding_change_nothing():
    head, out = _head(), _out()
    masks = _masks([(3, 3, 3), (9, 10, 4)])
    emb, logits = head(out, masks)
    swapped = masks[:, [0, 2, 1, 3]]
    padded = torch.cat([masks, torch.zeros(1, 3, S, S, S)], 1)
    for other in (swapped, padded):
        other_emb, other_logits = head(out, other)
        assert torch.allclose(other_emb, emb, atol=1e-5) and torch.allclose(other_logits, logits, atol=1e-5)
    att = head.node_attention(out, swapped)
    assert torch.allclose(att[0, [0, 2, 1, 3]], head.node_attention(out, masks)[0], atol=1e-6)


def test_count_and_spread_reach_the_embedding():
    head, out = _head(), _out()
    one = _masks([(3, 3, 3)])
    two = _masks([(3, 3, 3), (3, 3, 6)])
    far = _masks([(3, 3, 3), (11, 11, 11)])
    e1, e2, e3 = (head(out, m)[0].detach() for m in (one, two, far))
    assert not torch.allclose(e1, e2, atol=1e-4) and not torch.allclose(e2, e3, atol=1e-4)
    assert e1[0, -1] == pytest.approx(torch.log1p(torch.tensor(1.0)).item())
    assert e2[0, -1] == pytest.approx(torch.log1p(torch.tensor(2.0)).item())
    g, valid = node_geometry(far)
    assert valid.tolist() == [[False, True, True, False]]
    assert g[0, 1, 4] == pytest.approx(g[0, 2, 4].item()) and g[0, 1, 4] > g[0, 3, 4] == 0  # nearest-neighbour distance
    assert g[0, 0].tolist()[:5] == [0, 0, 0, 0, 0] and g[0, 0, 5] == 1  # the liver: its own reference


def test_attention_sums_to_one_and_sits_on_the_liver_without_a_tumour():
    head, out = _head(), _out(b=2)
    masks = torch.cat([_masks([(3, 3, 3), (9, 9, 9)]), _masks([])], 0)
    with torch.no_grad():
        readout = head.readout(out, masks)
    assert torch.allclose(readout.attention.sum(1), torch.ones(2))
    assert readout.attention[0, 0] == 0 and readout.attention[0, 3] == 0 and readout.attention[0, 1:3].min() > 0
    assert readout.attention[1].tolist() == [1.0, 0.0, 0.0, 0.0]
    hidden = head.phi[-2].out_features
    assert torch.all(readout.embedding[1, :hidden] == 0) and readout.embedding[1, -1] == 0  # empty readout, count 0


def test_gradients_reach_the_node_mlp_and_the_attention():
    head = _head().train()
    out = _out()
    _, logits = head(out, _masks([(3, 3, 3), (9, 9, 9)]))
    logits[0, 1].backward()
    for p in (head.phi[0].weight, head.attention_v.weight, head.attention_w.weight, head.fc.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="pass `roi_masks`"):
        head(out, None)


def test_graph_head_in_teacher_student_and_the_reactkd_distiller():
    torch.manual_seed(0)
    head = {"kind": "graph", "sources": ["fused", "level0"], "geometry": True, "hidden": 8}
    teacher = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=(1, 1, 1, 1), head=head)
    student = build_student(teacher=teacher, init_filters=8, pet_channels=2, blocks_down=(1, 1, 1, 1),
                            head={"kind": "graph", "sources": ["fused", "level0"]})
    assert isinstance(student.head, GraphHead) and isinstance(teacher.head, GraphHead)
    s = 32
    masks = torch.zeros(2, 3, s, s, s)
    masks[:, 0, 4:28, 4:28, 4:28] = 1
    masks[0, 1, 8:12, 8:12, 8:12] = 1
    masks[0, 2, 18:22, 18:22, 18:22] = 1
    batch = {"ct": torch.randn(2, 1, s, s, s), "pet": torch.randn(2, 2, s, s, s),
             "ct_lowdose": torch.randn(2, 1, s, s, s),
             "pet_present": torch.ones(2, 2, dtype=torch.bool), "roi_masks": masks,
             "roi_valid": torch.tensor([[True, True, True], [True, False, False]]), "label": torch.tensor([0, 2])}
    teacher.requires_grad_(False).eval()
    assert features_from_batch(teacher, batch).embedding.shape == (2, 2 * 8 + 1)
    distiller = build_distiller("reactkd", student, teacher)
    distiller.train()
    _, losses = distiller(batch)
    sum(losses.values()).backward()
    assert student.head.phi[0].weight.grad is not None and student.head.phi[0].weight.grad.abs().sum() > 0


def test_graph_spec_errors():
    with pytest.raises(ConfigError, match=r"^unknown config key `student.head.hidden` for `kind: region` "
                                          r"\(a key of `kind: graph`\)"):
        Student(head={"kind": "region", "hidden": 16})
    with pytest.raises(ConfigError, match=r"`student.head.hidden` must be >= 1"):
        Student(head={"kind": "graph", "hidden": 0})
    assert Student(head={"kind": "graph", "sources": ["input", "fused"]}).head.sources == ["input", "fused"]


def test_prediction_attention_comes_from_the_readout_of_a_graph_head(toy_case_images):
    torch.manual_seed(0)
    meta = {"preprocess": PreprocessConfig(grid_size=32).to_dict()}
    case = load_case(toy_case_images["ct"], toy_case_images["liver"], toy_case_images["tumor"], case_id="toy")
    graph = Student(init_filters=8, fusion_channels=8, blocks_down=(1, 1, 1), head={"kind": "graph", "geometry": True})
    result, image = predict_case(graph, meta, case)
    attention = [n["attention"] for n in result["nodes"]]
    assert result["attention_definition"].startswith("the graph head's gated-attention readout")
    assert attention[0] == 0 and sum(attention) == pytest.approx(1, abs=1e-5) and min(attention[1:]) > 0
    region = Student(init_filters=8, fusion_channels=8, blocks_down=(1, 1, 1), head={"kind": "region"})
    assert predict_case(region, meta, case)[0]["attention_definition"].startswith("Grad-CAM")


@pytest.mark.parametrize("name", DISTILLERS.keys())
def test_every_distiller_takes_graph_heads(name):
    """Embedding-reading distillers (relational, contrastive …) see the graph readout's embedding."""
    torch.manual_seed(0)
    swin = {"feature_size": 12, "depths": (1, 1, 1, 1), "window_size": 4, "fusion_channels": 16}
    head = {"kind": "graph", "sources": ["fused"], "geometry": True}
    teacher = build_teacher(head=head, **swin)
    multi = name in ("mtcmkd", "awmtkd")
    teachers = [teacher, build_teacher(branches=["dose"], head=head, **swin)] if multi else teacher
    student = build_student(teacher, init_filters=8, blocks_down=(1, 1, 1, 1), head=head)
    s = 32
    masks = torch.zeros(2, 3, s, s, s)
    masks[:, 0, 4:28, 4:28, 4:28] = 1
    masks[0, 1, 8:14, 8:14, 8:14] = 1
    masks[1, 1, 18:22, 18:22, 18:22] = 1
    batch = {"ct": torch.randn(2, 1, s, s, s), "pet": torch.randn(2, 2, s, s, s),
             "ct_lowdose": torch.randn(2, 1, s, s, s),
             "pet_present": torch.ones(2, 2, dtype=torch.bool), "roi_masks": masks, "case_id": ["a", "b"],
             "roi_valid": torch.tensor([[True, True, False], [True, True, False]]), "label": torch.tensor([0, 2])}
    _, losses = build_distiller(name, student, teachers)(batch)
    assert all(bool(torch.isfinite(v)) for v in losses.values())
    sum(losses.values()).backward()
    assert student.head.phi[0].weight.grad.abs().sum() > 0
