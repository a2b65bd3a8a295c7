"""Teacher and student: output shapes at tiny sizes, branch ablations, feature maps, validation, factories."""

import pytest
import torch

from reactkd.models import SegResNetEncoder, Student, StudentSpec, SwinEncoder, Teacher, TeacherSpec, build_student
from reactkd.utils.typed import ConfigError, from_dict

TINY_SWIN = {"feature_size": 12, "depths": (1, 1, 1, 1), "window_size": 4}




@pytest.mark.parametrize("branches,in_channels", [(("pet_ct", "dose"), 4), (("pet_ct",), 3), (["dose"], 1)])
def test_teacher_shapes_every_branch_set(branches, in_channels):
    torch.manual_seed(0)
    t = Teacher(branches=branches, fusion_channels=16, **TINY_SWIN).eval()
    assert t.in_channels == in_channels
    x = torch.randn(1, in_channels, 32, 32, 32)  # (B, C, D, H, W)
    with torch.no_grad():
        f = t.forward_features(x)
    n = len(t.spec.branches)
    assert f.logits.shape == (1, 3)
    assert [tuple(m.shape) for m in f.levels] == [(1, 12 * 2**i * n, 16 >> i, 16 >> i, 16 >> i) for i in range(5)]
    assert f.fused.shape == (1, 16, 1, 1, 1) and f.embedding.shape == (1, 16)
    assert t.out_channels == [12 * 2**i * n for i in range(5)] and t.strides == [2, 4, 8, 16, 32]


def test_teacher_forward_is_the_logits_of_forward_features():
    torch.manual_seed(0)
    t = Teacher(branches=["dose"], fusion_channels=16, **TINY_SWIN).eval()
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(t(x), t.forward_features(x).logits)


def test_teacher_batch_inputs_orders_channels():
    t = Teacher(fusion_channels=16, **TINY_SWIN)
    batch = {"ct": torch.zeros(1, 1, 32, 32, 32), "pet": torch.ones(1, 2, 32, 32, 32),
             "ct_lowdose": torch.full((1, 1, 32, 32, 32), 2.0)}
    x, mask, roi = t.inputs(batch)
    assert x.shape == (1, 4, 32, 32, 32) and x[0, :, 0, 0, 0].tolist() == [0.0, 1.0, 1.0, 2.0]
    assert mask is None and roi is None
    with pytest.raises(ValueError, match="ct_lowdose"):
        t.inputs({"ct": batch["ct"], "pet": batch["pet"]})


@pytest.mark.parametrize(
    "kwargs,match",
    [({"branches": []}, "non-empty subset"), ({"branches": ["mri"]}, r"one of \['pet_ct', 'dose'\]"),
     ({"feature_size": 10}, "multiple of 12"),
     ({"fusion_level": 5}, "fusion_level"), ({"pet_channels": 0}, "pet_channels")],
)
def test_teacher_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Teacher(**{**TINY_SWIN, **kwargs})


def test_swin_encoder_rejects_sides_not_divisible_by_32():
    with pytest.raises(ValueError, match="divisible by 32"):
        SwinEncoder(1, **TINY_SWIN)(torch.zeros(1, 1, 16, 32, 32))


@pytest.mark.parametrize("init_filters", [8, 16])
def test_student_ct_only_shapes(init_filters):
    torch.manual_seed(0)
    s = Student(init_filters=init_filters, fusion_channels=16, blocks_down=(1, 1, 1, 1)).eval()
    x = torch.randn(2, 1, 16, 16, 16)
    with torch.no_grad():
        f = s.forward_features(x)
    assert s(x).shape == (2, 3)
    assert [tuple(m.shape) for m in f.levels] == [(2, init_filters * 2**i, 16 >> i, 16 >> i, 16 >> i) for i in range(4)]
    assert f.fused.shape == (2, 16, 2, 2, 2) and s.strides == [1, 2, 4, 8]


def test_student_with_pet_needs_and_uses_the_explicit_mask():
    torch.manual_seed(0)
    s = Student(pet_channels=2, fusion_channels=16, blocks_down=(1, 1, 1, 1)).eval()
    x = torch.randn(2, 3, 16, 16, 16)
    with pytest.raises(ValueError, match="modality_mask"):
        s(x)
    no_pet = torch.tensor([[True, False], [True, False]])
    # declared-absent PET is ignored whatever its voxels hold
    x2 = x.clone()
    x2[:, 1:] = torch.randn(2, 2, 16, 16, 16)
    torch.testing.assert_close(s(x, no_pet), s(x2, no_pet))
    assert not torch.allclose(s(x, no_pet), s(x, torch.ones(2, 2, dtype=torch.bool)))
    with pytest.raises(ValueError, match="no modality"):
        s(x, torch.tensor([[False, False], [True, True]]))


def test_segresnet_encoder_validation():
    with pytest.raises(ValueError, match="norm_groups"):
        SegResNetEncoder(1, init_filters=4)
    with pytest.raises(ValueError, match="divisible by 8"):
        SegResNetEncoder(1)(torch.zeros(1, 1, 12, 16, 16))


def test_networks_build_from_specs_mappings_or_keys():
    torch.manual_seed(0)
    a = Student(StudentSpec(init_filters=8, fusion_channels=16))
    torch.manual_seed(0)
    b = Student({"init_filters": 8, "fusion_channels": 16})
    torch.manual_seed(0)
    c = Student(init_filters=8, fusion_channels=16)
    assert a.spec == b.spec == c.spec
    assert all(torch.equal(x, y) and torch.equal(x, z)
               for x, y, z in zip(a.state_dict().values(), b.state_dict().values(), c.state_dict().values()))
    with pytest.raises(ValueError, match="not both"):
        Student(StudentSpec(), init_filters=8)
    with pytest.raises(ValueError, match="not both"):
        build_student(Teacher(fusion_channels=16, **TINY_SWIN), cbam=a.cbam)
    with pytest.raises(ConfigError,
                       match=r"unknown config key `teacher.feature_sise`.*Did you mean `teacher.feature_size`"):
        from_dict(TeacherSpec, {"feature_sise": 24}, "teacher")
