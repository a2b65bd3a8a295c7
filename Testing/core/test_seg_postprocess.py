"""Segmentation training options added for the demo: post-processing, class-weighted CE, tumour-weighted
patch sampling, and the warm-up / skip of the teacher terms."""

import numpy as np
import pytest
import torch

from reactkd.segment import SegNet, build_seg_student
from reactkd.segment.data import SegPatches, SegVolume
from reactkd.segment.distill import build_seg_distiller as build_distiller
from reactkd.segment.losses import SegTaskLoss
from reactkd.segment.postprocess import postprocess_labels


def test_largest_component_keeps_the_liver_and_its_tumours_only():
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[2:12, 2:12, 2:12] = 1
    labels[5:7, 5:7, 5:7] = 2  # tumour inside the liver: kept
    labels[16:18, 16:18, 16:18] = 1  # stray "liver" far away: dropped
    labels[0, 18, 0] = 2  # stray "tumour" outside the liver: dropped
    out = postprocess_labels(labels, "largest_component")
    assert out[16:18, 16:18, 16:18].sum() == 0 and out[0, 18, 0] == 0
    np.testing.assert_array_equal(out[:13, :13, :13], labels[:13, :13, :13])
    assert labels[0, 18, 0] == 2  # the input is not changed
    np.testing.assert_array_equal(postprocess_labels(labels, "none"), labels)
    assert not postprocess_labels(np.zeros((4, 4, 4), np.uint8)).any()
    with pytest.raises(ValueError, match="largest_component"):
        postprocess_labels(labels, "biggest")


def test_ce_class_weights_make_a_missed_tumour_cost_more():
    labels = torch.zeros(1, 1, 4, 4, 4, dtype=torch.long)
    labels[0, 0, :2, :2, :2] = 2
    logits = torch.zeros(1, 3, 4, 4, 4)
    logits[:, 1] = 2.0  # "liver" everywhere: the tumour is missed
    plain = SegTaskLoss(0.0, 1.0)(logits, labels)["loss_ce"]
    weighted = SegTaskLoss(0.0, 1.0, [1.0, 1.0, 5.0])(logits, labels)["loss_ce"]
    assert weighted > plain
    with pytest.raises(ValueError, match="class_weights"):
        SegTaskLoss(1.0, 1.0, [1.0, -1.0, 1.0])


def test_class_sampling_centres_patches_on_tumours():
    labels = np.zeros((24, 24, 24), np.uint8)
    labels[4:20, 4:20, 4:20] = 1
    labels[10:12, 10:12, 10:12] = 2
    vol = SegVolume("c", np.zeros(labels.shape, np.float32), labels, 4.0)
    np.random.seed(0)
    tumour_only = SegPatches([vol], 16, 1, foreground_share=1.0, class_sampling=[0.0, 1.0])
    centres = [tuple(tumour_only.centre(0)) for _ in range(20)]
    assert all(labels[c] == 2 for c in centres)
    with pytest.raises(ValueError, match="class_sampling"):
        SegPatches([vol], 16, 1, class_sampling=[0.0, 0.0])


def _pair():
    torch.manual_seed(0)
    teacher = SegNet("segresnet", init_filters=8, blocks_down=[1, 1], blocks_up=[1])
    return teacher.requires_grad_(False).eval(), build_seg_student(teacher, shrink=1, min_channels=4)


def _batch():
    seg = torch.zeros(2, 1, 16, 16, 16, dtype=torch.long)
    seg[:, :, 2:14, 2:14, 2:14] = 1
    seg[:, :, 5:8, 5:8, 5:8] = 2
    return {"ct": torch.randn(2, 1, 16, 16, 16), "seg": seg}


def test_teacher_terms_ramp_up_over_the_warmup_and_resume_from_the_state():
    teacher, student = _pair()
    full = build_distiller("seg_reco", student, teacher, num_positions=16, levels=["enc2", "dec1"])
    ramped = build_distiller("seg_reco", student, teacher, num_positions=16, levels=["enc2", "dec1"], warmup_steps=4)
    ramped.projectors.load_state_dict(full.projectors.state_dict())  # same 1x1x1 projections
    batch = _batch()
    torch.manual_seed(1)
    _, ref = full(batch)
    torch.manual_seed(1)
    _, first = ramped(batch)
    assert torch.allclose(first["loss_sard"], 0.25 * ref["loss_sard"])
    assert torch.allclose(first["loss_dice"], ref["loss_dice"])
    state = ramped.state_dict()
    assert int(state["steps_done"]) == 1
    again = build_distiller("seg_reco", student, teacher, num_positions=16, levels=["enc2", "dec1"], warmup_steps=4)
    again.load_state_dict(state)
    assert again.ramp() == 0.5
    with pytest.raises(ValueError, match="warmup_steps"):
        build_distiller("seg_reco", student, teacher, warmup_steps=-1)


def test_without_distillation_weights_the_teacher_is_not_run():
    teacher, student = _pair()
    calls = []
    teacher.net.register_forward_hook(lambda *_: calls.append(1))
    plain = build_distiller("seg_reco", student, teacher, sard_weight=0.0, ca_weight=0.0, levels=["enc2", "dec1"])
    _, losses = plain(_batch())
    assert set(losses) == {"loss_dice", "loss_ce"} and not calls
    build_distiller("seg_reco", student, teacher, num_positions=16, levels=["enc2", "dec1"])(_batch())
    assert calls
