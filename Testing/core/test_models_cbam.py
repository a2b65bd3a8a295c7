"""CBAM3D: shapes, gates, validation, and real sharing between teacher and student."""

import pytest
import torch
import torch.nn as nn

from reactkd.models import CBAM3D, Student, StudentSpec, build_student, build_teacher


@pytest.mark.parametrize("channels,reduction,kernel,size", [(16, 8, 7, 4), (1, 8, 3, 5), (24, 4, 1, 2)])
def test_shapes_and_gate_ranges(channels, reduction, kernel, size):
    torch.manual_seed(0)
    cbam = CBAM3D(channels, reduction, kernel)
    x = torch.randn(2, channels, size, size, size)  # (B, C, D, H, W)
    assert cbam(x).shape == x.shape
    cg, sg = cbam.channel_gate(x), cbam.spatial_gate(x)
    assert cg.shape == (2, channels, 1, 1, 1) and sg.shape == (2, 1, size, size, size)
    assert bool(((cg > 0) & (cg < 1)).all()) and bool(((sg > 0) & (sg < 1)).all())
    assert cbam.mlp[0].out_features == max(1, channels // reduction)


def test_matches_hand_computation():
    torch.manual_seed(0)
    cbam = CBAM3D(4, reduction=2, spatial_kernel=3)
    x = torch.randn(1, 4, 3, 3, 3)
    mlp = cbam.mlp
    xc = x * torch.sigmoid(mlp(x.mean((2, 3, 4))) + mlp(x.amax((2, 3, 4))))[..., None, None, None]
    desc = torch.cat([xc.mean(1, keepdim=True), xc.amax(1, keepdim=True)], 1)
    expected = xc * torch.sigmoid(cbam.spatial(desc))
    torch.testing.assert_close(cbam(x), expected)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"channels": 0}, "`channels`"), ({"channels": 8, "reduction": 0}, "`reduction`"),
     ({"channels": 8, "spatial_kernel": 4}, "odd")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CBAM3D(**kwargs)


def test_wrong_input_width():
    with pytest.raises(ValueError, match=r"\(B, 8, D, H, W\)"):
        CBAM3D(8)(torch.zeros(1, 4, 2, 2, 2))


def _tiny_teacher():
    return build_teacher(feature_size=12, fusion_channels=16, depths=(1, 1, 1, 1), window_size=4)


def test_student_shares_the_teachers_instance_frozen_by_default():
    torch.manual_seed(0)
    teacher = _tiny_teacher()
    student = build_student(teacher, init_filters=8)
    assert student.cbam is teacher.cbam and student.cbam_shared
    assert student.spec.fusion_channels == 16 and not student.spec.train_shared_cbam  # the teacher's width
    assert not any(p.requires_grad for p in student.cbam.parameters())
    # one set of weights: a change seen from the teacher is seen by the student
    with torch.no_grad():
        teacher.cbam.spatial.bias.add_(1.0)
    torch.testing.assert_close(student.cbam.spatial.bias, teacher.cbam.spatial.bias)


def test_shared_cbam_can_be_trained():
    torch.manual_seed(0)
    shared = CBAM3D(16)  # stands in for teacher.cbam: build_student passes exactly this argument
    student = build_student(None, cbam=shared, fusion_channels=16, train_shared_cbam=True, blocks_down=(1, 1, 1, 1))
    assert student.cbam is shared and all(p.requires_grad for p in shared.parameters())
    student(torch.randn(1, 1, 16, 16, 16)).sum().backward()
    assert shared.spatial.weight.grad is not None


def test_own_cbam_is_trainable_and_width_mismatch_rejected():
    student = build_student(None, init_filters=8, fusion_channels=16)
    assert not student.cbam_shared and all(p.requires_grad for p in student.cbam.parameters())
    with pytest.raises(ValueError, match=r"a CBAM3D of 16 channels but the student's `fusion_channels` is 32"):
        build_student(_tiny_teacher(), init_filters=8, fusion_channels=32)


def test_no_cbam_builds_no_module_in_either_network():
    """``cbam: null`` is no attention: an ``nn.Identity`` in its place, no CBAM3D, no parameters; a student
    sharing it, or rebuilt alone from its spec, has none either."""
    t = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=[1, 1, 1, 1], cbam=None)
    assert isinstance(t.cbam, nn.Identity) and not any(isinstance(m, CBAM3D) for m in t.modules())
    s = build_student(teacher=t, init_filters=8)
    assert s.cbam is t.cbam and s.spec.cbam is None
    alone = Student(s.spec)
    assert isinstance(alone.cbam, nn.Identity) and not any(isinstance(m, CBAM3D) for m in alone.modules())
    assert alone.state_dict().keys() == s.state_dict().keys()
    with pytest.raises(ValueError, match="a CBAM3D but the student's spec has `cbam: null`"):
        Student(StudentSpec(fusion_channels=16, cbam=None), cbam=CBAM3D(16))
