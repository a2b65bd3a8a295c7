"""Focal loss and logit KD: reductions to known cases, hand values, errors, dtype/device/gradients."""

import math

import pytest
import torch
import torch.nn.functional as F

from reactkd.losses import FocalLoss, KDLoss, kd_loss, multi_teacher_kd_loss, softmax_focal_loss


def test_focal_gamma0_no_alpha_is_cross_entropy():
    torch.manual_seed(0)
    logits, target = torch.randn(5, 3), torch.tensor([0, 1, 2, 2, 1])  # (B, K), (B,)
    ours = softmax_focal_loss(logits, target, gamma=0.0, alpha=None)
    torch.testing.assert_close(ours, F.cross_entropy(logits, target))


def test_focal_hand_value_with_default_alpha():
    # uniform logits: p_y = 1/3, (1 - p)^2 log 3 = 4/9 · ln 3; α of grades 1 and 3 = 1.5, 2.0
    loss = FocalLoss()(torch.zeros(2, 3), torch.tensor([0, 2]))
    assert loss.item() == pytest.approx((1.5 + 2.0) / 2 * 4 / 9 * math.log(3), rel=1e-6)
    per_case = FocalLoss(reduction="none")(torch.zeros(2, 3), torch.tensor([0, 2]))
    assert per_case.shape == (2,) and per_case[1] / per_case[0] == pytest.approx(2.0 / 1.5)


def test_focal_down_weights_easy_cases():
    easy, hard = torch.tensor([[5.0, 0.0, 0.0]]), torch.tensor([[0.0, 5.0, 0.0]])
    y = torch.tensor([0])
    ratio_focal = softmax_focal_loss(easy, y, alpha=None) / softmax_focal_loss(hard, y, alpha=None)
    ratio_ce = F.cross_entropy(easy, y) / F.cross_entropy(hard, y)
    assert ratio_focal < ratio_ce / 100


@pytest.mark.parametrize(
    "args,match",
    [((torch.zeros(2, 3, 1), torch.zeros(2, dtype=torch.long)), r"\(B, K\)"),
     ((torch.zeros(2, 3), torch.zeros(2)), "int64"),
     ((torch.zeros(2, 3), torch.tensor([0, 3])), r"\[0, 2\]")],
)
def test_focal_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        softmax_focal_loss(*args)


def test_focal_bad_options():
    with pytest.raises(ValueError, match="`gamma`"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="`alpha`"):
        FocalLoss(alpha=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="2 entries|3 entries"):
        softmax_focal_loss(torch.zeros(1, 3), torch.tensor([0]), alpha=(1.0, 1.0))
    with pytest.raises(ValueError):
        FocalLoss(reduction="meen")


def test_kd_zero_for_equal_logits_and_matches_kl_div():
    torch.manual_seed(0)
    s, t = torch.randn(4, 3), torch.randn(4, 3)
    assert kd_loss(t, t).item() == pytest.approx(0.0, abs=1e-7)
    ref = F.kl_div(F.log_softmax(s / 2, 1), F.softmax(t / 2, 1), reduction="batchmean") * 4
    torch.testing.assert_close(kd_loss(s, t, temperature=2.0), ref)
    torch.testing.assert_close(KDLoss(temperature=2.0, reduction="none")(s, t).mean(), ref)


def test_multi_teacher_kd_weights():
    torch.manual_seed(0)
    s, t1, t2 = torch.randn(3, 3), torch.randn(3, 3), torch.randn(3, 3)
    uniform = multi_teacher_kd_loss(s, [t1, t2])
    torch.testing.assert_close(uniform, (kd_loss(s, t1) + kd_loss(s, t2)) / 2)
    only_first = multi_teacher_kd_loss(s, [t1, t2], torch.tensor([[1.0, 0.0]] * 3))
    torch.testing.assert_close(only_first, kd_loss(s, t1))
    with pytest.raises(ValueError, match="empty"):
        multi_teacher_kd_loss(s, [])


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_kd_bad_temperature(temperature):
    with pytest.raises(ValueError, match="`temperature` must be > 0"):
        KDLoss(temperature)


def test_kd_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        kd_loss(torch.zeros(2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_gradients(dtype):
    torch.manual_seed(0)
    s = torch.randn(3, 3, dtype=dtype, requires_grad=True)
    t, y = torch.randn(3, 3, dtype=dtype), torch.tensor([0, 1, 2])
    total = FocalLoss()(s, y) + KDLoss()(s, t)
    assert total.dtype == dtype
    total.backward()
    assert s.grad.shape == (3, 3) and bool(torch.isfinite(s.grad).all()) and float(s.grad.abs().sum()) > 0
