"""Distillers on a tiny batch: one step each, gradients from every term, frozen teacher, loss decreases."""

import pytest
import torch

from reactkd.distill import AWMTKD, DISTILLERS, REACTKD, build_distiller
from reactkd.models import build_student, build_teacher

S = 32  # Swin needs sides divisible by 32
TINY_SWIN = {"feature_size": 12, "depths": (1, 1, 1, 1), "window_size": 4, "fusion_channels": 16}
MULTI = {"mtcmkd", "awmtkd"}




def make_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    b = {
        "ct": torch.randn(2, 1, S, S, S, generator=g),
        "pet": torch.randn(2, 2, S, S, S, generator=g),
        "pet_present": torch.tensor([[True, True], [True, False]]),
        "ct_lowdose": torch.randn(2, 1, S, S, S, generator=g),
        "label": torch.tensor([0, 2]),
        "case_id": ["a", "b"],
    }
    m = torch.zeros(2, 3, S, S, S)  # (B, R, D, H, W): liver + up to 2 tumours
    m[:, 0, 4:28, 4:28, 4:28] = 1
    m[0, 1, 8:14, 8:14, 8:14] = 1
    m[0, 2, 18:21, 18:21, 18:21] = 1  # smaller than a stride-8 feature voxel: area weighting keeps it
    m[1, 1, 10:16, 12:18, 10:16] = 1
    b["roi_masks"], b["roi_valid"] = m, torch.tensor([[True, True, True], [True, True, False]])
    return b


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    teacher = build_teacher(**TINY_SWIN)
    dose_teacher = build_teacher(branches=["dose"], **TINY_SWIN)
    return teacher, dose_teacher


def _student(teacher, **kw):
    return build_student(teacher, init_filters=8, blocks_down=(1, 1, 1, 1), **kw)


def test_student_alone_has_only_the_task_term_and_never_runs_the_teacher(models):
    teacher, _ = models
    calls = []
    hook = teacher.register_forward_hook(lambda *a: calls.append(1))
    try:
        d = build_distiller("none", _student(teacher), teacher)
        logits, losses = d(make_batch())
    finally:
        hook.remove()
    assert logits.shape == (2, 3) and set(losses) == {"loss_task"} and not calls
    with pytest.raises(ValueError, match="`kd_weight` must be 0"):
        build_distiller("none", _student(teacher), teacher, kd_weight=1.0)


@pytest.mark.parametrize("name", [k for k in DISTILLERS.keys() if k != "none"])
def test_every_registered_distiller_runs_one_step(models, name):
    torch.manual_seed(0)
    teacher, dose_teacher = models
    student = _student(teacher)
    d = build_distiller(name, student, [teacher, dose_teacher] if name in MULTI else teacher)
    batch = make_batch()
    logits, losses = d(batch)
    assert logits.shape == (2, 3) and "loss_task" in losses and len(losses) >= 2
    assert all(k.startswith("loss_") and v.ndim == 0 and bool(torch.isfinite(v)) for k, v in losses.items())
    first = student.backbone.encoder.convInit.conv.weight  # upstream of every level, embedding and logits
    for key, value in losses.items():  # every term on its own reaches the student
        student.zero_grad()
        value.backward(retain_graph=True)
        assert first.grad is not None and float(first.grad.abs().sum()) > 0, key
    assert all(p.grad is None for p in teacher.backbone.encoders.parameters())
    d.eval()
    with torch.no_grad():
        assert d(batch).shape == (2, 3)


def test_every_reactkd_term_reaches_the_student(models):
    torch.manual_seed(0)
    teacher, _ = models
    student = _student(teacher)
    d = REACTKD(student, teacher)
    _, losses = d(make_batch())
    assert sorted(losses) == ["loss_edge", "loss_gw", "loss_kd", "loss_node", "loss_task"]
    enc = student.backbone.encoder.down_layers[-1][0].conv.weight  # feeds the graph level and the head
    for key, value in losses.items():
        student.zero_grad()
        d.node_projector.zero_grad()
        value.backward(retain_graph=True)
        assert enc.grad is not None and float(enc.grad.abs().sum()) > 0, key


def test_teacher_frozen_and_learnable_parameters(models):
    teacher, _ = models
    d = REACTKD(_student(teacher), teacher)
    d.train()
    assert d.training and d.student.training and not d.teacher.training
    learn = {id(p) for p in d.get_learnable_parameters()}
    assert not learn & {id(p) for p in teacher.parameters()}  # shared CBAM frozen by default
    assert {id(p) for p in d.node_projector.parameters()} <= learn
    d2 = REACTKD(_student(teacher, train_shared_cbam=True), teacher)
    assert {id(p) for p in teacher.cbam.parameters()} <= {id(p) for p in d2.get_learnable_parameters()}
    teacher.cbam.requires_grad_(False)  # restore for the other tests


def test_zero_weights_skip_terms(models):
    teacher, _ = models
    d = REACTKD(_student(teacher), teacher, gw_weight=0.0, edge_weight=0.0, kd_weight=0.0)
    _, losses = d(make_batch())
    assert sorted(losses) == ["loss_node", "loss_task"]


def test_pet_student_with_modality_dropout(models):
    torch.manual_seed(0)
    teacher, _ = models
    d = REACTKD(_student(teacher, pet_channels=2), teacher)
    logits, losses = d(make_batch())
    assert logits.shape == (2, 3) and bool(torch.isfinite(sum(losses.values())))


def test_awmtkd_prefers_the_teacher_that_is_right():
    logits_right = torch.tensor([[5.0, 0.0, 0.0]])
    logits_wrong = torch.tensor([[0.0, 5.0, 0.0]])
    w = AWMTKD.teacher_weights(None, [logits_right, logits_wrong], torch.tensor([0]))
    assert w.shape == (1, 2) and w.sum().item() == pytest.approx(1.0) and w[0, 0] > 0.99


@pytest.mark.parametrize(
    "kwargs,err,match",
    [({"gw_weight": -1.0}, ValueError, "`gw_weight` must be >= 0"), ({"task_loss": "dice"}, ValueError, "`task_loss`"),
     ({"teacher_level": 7}, ValueError, "`teacher_level`"), ({"temperature": 0}, ValueError, "`temperature`")],
)
def test_bad_options(models, kwargs, err, match):
    teacher, _ = models
    with pytest.raises(err, match=match):
        REACTKD(_student(teacher), teacher, **kwargs)


def test_rejects_models_without_features(models):
    with pytest.raises(TypeError, match="forward_features"):
        build_distiller("kd", torch.nn.Linear(2, 2), models[0])
    with pytest.raises(ValueError, match="non-empty"):
        build_distiller("kd", _student(models[0]), [])


def test_few_student_steps_lower_the_total_loss(models):
    torch.manual_seed(0)
    teacher, _ = models
    d = REACTKD(_student(teacher), teacher)
    opt = torch.optim.Adam(d.get_learnable_parameters(), lr=3e-3)
    batch = make_batch()
    totals = []
    for _ in range(4):
        _, losses = d(batch)
        total = sum(losses.values())
        opt.zero_grad()
        total.backward()
        opt.step()
        totals.append(total.item())
    assert totals[-1] < totals[0], totals


@pytest.mark.parametrize("name", DISTILLERS.keys())
def test_every_distiller_trains_under_bf16_autocast(models, name):
    """`precision: bf16` (CPU or CUDA): every term finite, gradients reach the student (POT needs float32)."""
    torch.manual_seed(0)
    teacher, dose_teacher = models
    student = _student(teacher)
    d = build_distiller(name, student, [teacher, dose_teacher] if name in MULTI else teacher)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, losses = d(make_batch())
    assert all(bool(torch.isfinite(v)) for v in losses.values()), {k: float(v) for k, v in losses.items()}
    sum(losses.values()).backward()
    assert student.backbone.encoder.convInit.conv.weight.grad is not None
