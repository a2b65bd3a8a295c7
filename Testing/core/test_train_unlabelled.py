"""Stage 1 with unlabelled CT: the joint loader (graded batches with unlabelled ones beside them, resumable)
and the dose-consistency term (dose branch only, stop-gradient on the native view, focal loss unchanged)."""

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from reactkd.losses.dose_consistency import DoseConsistencySpec
from reactkd.models import build_teacher
from reactkd.train.data import load_loader_state, loader_state
from reactkd.train.dose_consistency import DoseConsistencyModel, consistency_level, dose_branch_nodes
from reactkd.train.supervised import SupervisedModel
from reactkd.train.unlabelled import UNLABELLED_KEYS, WithUnlabelled, unlabelled_part

S = 32  # Swin needs sides divisible by 32
TINY_SWIN = {"feature_size": 12, "depths": (1, 1, 1, 1), "window_size": 4, "fusion_channels": 16}


class _Cases(Dataset):
    """``n`` cases whose tensors hold their index (so batches say which cases they are)."""

    def __init__(self, n: int, offset: int = 0):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        v = float(i + self.offset)
        return {"ct": torch.full((1, 2, 2, 2), v), "ct_lowdose": torch.full((1, 2, 2, 2), v),
                "roi_masks": torch.ones(1, 2, 2, 2), "roi_valid": torch.ones(1, dtype=torch.bool),
                "label": torch.tensor(i % 3)}


def _loader(n, offset=0, seed=0, batch=2):
    return DataLoader(_Cases(n, offset), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(seed))


def _ids(batches, key):
    return [b[key][:, 0, 0, 0, 0].tolist() for b in batches]


def test_joint_batches_follow_the_graded_loader_and_cycle_the_unlabelled_one():
    joint = WithUnlabelled(_loader(6), _loader(3, offset=100, seed=1))
    batches = list(joint)
    assert len(batches) == len(joint) == 3  # the graded loader sets the epoch
    assert sorted(sum(_ids(batches, "ct"), [])) == [0, 1, 2, 3, 4, 5]  # every graded case once, unchanged
    extra = sum(_ids(batches, "unlabelled_ct"), [])
    assert len(extra) == 5 and set(extra) == {100, 101, 102}  # 2 + 1 of a first pass, then round again
    for b in batches:
        assert {f"unlabelled_{k}" for k in UNLABELLED_KEYS} <= set(b) and "unlabelled_label" not in b
        assert set(unlabelled_part(b)) == set(UNLABELLED_KEYS)
    assert unlabelled_part({"ct": 1}) is None


def test_joint_loader_state_resumes_the_same_batches():
    def fresh():
        return WithUnlabelled(_loader(6), _loader(5, offset=100, seed=1))

    straight = fresh()
    list(straight)  # epoch 1
    saved = loader_state(straight)
    epoch2 = list(straight)
    resumed = fresh()
    load_loader_state(resumed, saved)
    again = list(resumed)
    assert _ids(again, "ct") == _ids(epoch2, "ct") and _ids(again, "unlabelled_ct") == _ids(epoch2, "unlabelled_ct")
    with pytest.raises(ValueError, match="unlabelled"):
        load_loader_state(fresh(), loader_state(_loader(6)))  # saved without unlabelled cases
    with pytest.raises(ValueError, match="no case"):
        WithUnlabelled(_loader(6), DataLoader(_Cases(0), batch_size=2))


def _batch(seed=0, unlabelled=True):
    g = torch.Generator().manual_seed(seed)
    m = torch.zeros(2, 2, S, S, S)  # (B, R, D, H, W): liver + one tumour
    m[:, 0, 4:28, 4:28, 4:28] = 1
    m[:, 1, 8:16, 8:16, 8:16] = 1
    b = {"ct": torch.randn(2, 1, S, S, S, generator=g), "pet": torch.randn(2, 2, S, S, S, generator=g),
         "ct_lowdose": torch.randn(2, 1, S, S, S, generator=g), "label": torch.tensor([0, 2]),
         "roi_masks": m, "roi_valid": torch.ones(2, 2, dtype=torch.bool)}
    if unlabelled:
        ct = torch.randn(2, 1, S, S, S, generator=g)
        b.update({"unlabelled_ct": ct, "unlabelled_ct_lowdose": ct + 0.3 * torch.randn(ct.shape, generator=g),
                  "unlabelled_roi_masks": m.clone(),
                  "unlabelled_roi_valid": torch.tensor([[True, True], [True, False]])})
    return b


@pytest.fixture()
def teacher():
    torch.manual_seed(0)
    return build_teacher(**TINY_SWIN)


def test_the_term_trains_the_dose_branch_alone_towards_the_native_view(teacher):
    model = DoseConsistencyModel(SupervisedModel(teacher), DoseConsistencySpec(weight=0.5), level=1).train()
    logits, losses = model(_batch())
    assert logits.shape == (2, 3) and set(losses) == {"loss_task", "loss_dose_consistency"}
    assert float(losses["loss_dose_consistency"].detach()) > 0
    losses["loss_dose_consistency"].backward()
    dose, pet_ct = (teacher.backbone.encoders[k] for k in ("dose", "pet_ct"))
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in dose.parameters())
    assert all(p.grad is None for p in pet_ct.parameters())  # the unlabelled CT has no PET
    assert all(p.grad is None for p in teacher.head.parameters())  # nor a grade


def test_focal_part_equals_the_supervised_model_and_without_unlabelled_only_it(teacher):
    supervised = SupervisedModel(teacher).train()
    model = DoseConsistencyModel(supervised, DoseConsistencySpec(), level=2).train()
    torch.manual_seed(1)
    _, plain = supervised(_batch(unlabelled=False))
    torch.manual_seed(1)
    _, joint = model(_batch())
    assert torch.equal(plain["loss_task"], joint["loss_task"])
    assert set(model(_batch(unlabelled=False))[1]) == {"loss_task"}
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(_batch()), supervised(_batch()))


def test_equal_views_give_zero_and_the_weight_scales(teacher):
    b = _batch()
    b["unlabelled_ct_lowdose"] = b["unlabelled_ct"].clone()
    model = DoseConsistencyModel(SupervisedModel(teacher), DoseConsistencySpec(), level=1).train()
    assert float(model(b)[1]["loss_dose_consistency"].detach()) == pytest.approx(0.0, abs=1e-5)
    b = _batch()
    one = DoseConsistencyModel(SupervisedModel(teacher), DoseConsistencySpec(weight=1.0), level=1).train()
    three = DoseConsistencyModel(SupervisedModel(teacher), DoseConsistencySpec(weight=3.0), level=1).train()
    single = float(one(b)[1]["loss_dose_consistency"].detach())
    assert float(three(b)[1]["loss_dose_consistency"].detach()) == pytest.approx(3 * single, rel=1e-5)


def test_native_view_gets_gradient_only_when_symmetric(teacher):
    b = _batch()
    b["unlabelled_ct"].requires_grad_(True)
    for target, reaches in (("native", False), ("symmetric", True)):
        b["unlabelled_ct"].grad = None
        model = DoseConsistencyModel(SupervisedModel(teacher), DoseConsistencySpec(target=target), level=1).train()
        model(b)[1]["loss_dose_consistency"].backward()
        grad = b["unlabelled_ct"].grad
        assert (grad is not None and float(grad.abs().sum()) > 0) is reaches, target


def test_nodes_come_from_the_dose_encoder_with_roi_channels():
    torch.manual_seed(0)
    t = build_teacher(roi_channels=True, **TINY_SWIN)
    b = _batch()
    nodes = dose_branch_nodes(t, b["unlabelled_ct"], b["unlabelled_roi_masks"], 1)
    assert nodes.shape == (2, 2, t.backbone.encoders["dose"].out_channels[1])


def test_refusals_and_the_level_default(teacher):
    torch.manual_seed(0)
    pet_only = build_teacher(branches=["pet_ct"], **TINY_SWIN)
    with pytest.raises(ValueError, match="dose-aware branch.*add `dose` to teacher.branches"):
        DoseConsistencyModel(SupervisedModel(pet_only), DoseConsistencySpec(), level=2)
    with pytest.raises(ValueError, match="levels 0..4, got 5"):
        DoseConsistencyModel(SupervisedModel(teacher), DoseConsistencySpec(), level=5)
    assert consistency_level(DoseConsistencySpec(level=3), {"teacher_level": 1}) == 3
    assert consistency_level(DoseConsistencySpec(), {"teacher_level": 1}) == 1
    assert consistency_level(DoseConsistencySpec(), {}) == 2
