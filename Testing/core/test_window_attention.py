"""The teacher's window attention: MONAI's numbers in fp32, bf16 attention matrices under bf16 autocast."""

import copy

import torch
from monai.networks.nets.swin_unetr import WindowAttention
from torch.overrides import TorchFunctionMode

from reactkd.models.encoders import SwinEncoder
from reactkd.models.window_attention import AutocastWindowAttention, keep_autocast_precision


class _SoftmaxDtypes(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.dtypes = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "softmax":
            self.dtypes.append(args[0].dtype)
        return func(*args, **(kwargs or {}))


def _pair():
    torch.manual_seed(0)
    monai = WindowAttention(dim=12, num_heads=3, window_size=(4, 4, 4))
    torch.nn.init.normal_(monai.relative_position_bias_table, std=0.5)
    return monai, keep_autocast_precision(copy.deepcopy(monai))


def test_fp32_is_monai_and_the_state_dict_is_unchanged():
    monai, ours = _pair()
    assert type(ours) is AutocastWindowAttention and list(ours.state_dict()) == list(monai.state_dict())
    x = torch.randn(8, 64, 12)
    mask = torch.where(torch.rand(4, 64, 64) > 0.3, 0.0, -100.0)
    for m in (None, mask):
        torch.testing.assert_close(ours(x, m), monai(x, m), rtol=0, atol=1e-6)


def test_bf16_autocast_keeps_the_attention_in_bf16_and_agrees_with_fp32():
    monai, ours = _pair()
    x = torch.randn(8, 64, 12)
    mask = torch.where(torch.rand(4, 64, 64) > 0.3, 0.0, -100.0)
    want = monai(x, mask)
    seen = {}
    for name, m in (("monai", monai), ("ours", ours)):
        with _SoftmaxDtypes() as spy, torch.autocast("cpu", torch.bfloat16):
            got = m(x, mask)
        seen[name] = set(spy.dtypes)
        torch.testing.assert_close(got.float(), want, rtol=0.05, atol=0.05)
    assert seen == {"monai": {torch.float32}, "ours": {torch.bfloat16}}


def test_the_swin_encoder_uses_it():
    enc = SwinEncoder(2, feature_size=12, window_size=4, depths=(1, 1, 1, 1))
    kinds = {type(m) for m in enc.modules() if isinstance(m, WindowAttention)}
    assert kinds == {AutocastWindowAttention}
