"""Swin window attention that keeps autocast's precision: the attention matrices stay bf16 under bf16 autocast.

MONAI's :class:`~monai.networks.nets.swin_unetr.WindowAttention` adds its relative position bias — an fp32
parameter — and the shifted-window mask (fp32) to the bf16 product ``q kᵀ``. Type promotion then makes every
``(windows·heads, n, n)`` attention matrix fp32: the softmax, its backward and the ``attn @ v`` product run
on fp32 matrices and the result is cast back, so bf16 autocast barely speeds the teacher up (with
MONAI's attention a bf16 training step of the demo teacher at 64³ was no faster than fp32;
``docs/results.md``). :class:`AutocastWindowAttention` casts the bias and the mask to the product's dtype
instead. In fp32 it computes exactly what MONAI's does; the parameters and buffers are MONAI's, so
checkpoints load unchanged.

Window attention (Liu et al., "Swin Transformer", ICCV 2021, eq. 4):

.. math:: \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}(Q K^\\top / \\sqrt{d} + B + M)\\, V

with ``B`` the relative position bias and ``M`` the shifted windows' mask (0 or −100).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from monai.networks.nets.swin_unetr import WindowAttention

__all__ = ["AutocastWindowAttention", "keep_autocast_precision"]


class AutocastWindowAttention(WindowAttention):
    """MONAI's window attention with ``B`` and ``M`` in the dtype of ``q kᵀ`` (see the module docstring).

    ``forward``: ``x`` ``(windows·batch, n, C)`` tokens of each window, ``mask`` ``(windows, n, n)`` or None →
    ``(windows·batch, n, C)``.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, c = x.shape
        heads = self.num_heads
        q, k, v = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (b, heads, n, n) in autocast's dtype
        bias = self.relative_position_bias_table[self.relative_position_index[:n, :n].reshape(-1)]
        attn = attn + bias.reshape(n, n, heads).permute(2, 0, 1).to(attn.dtype)
        if mask is not None:
            nw = mask.shape[0]
            attn = (attn.view(b // nw, nw, heads, n, n) + mask.to(attn.dtype)[None, :, None]).view(b, heads, n, n)
        attn = self.attn_drop(attn.softmax(-1))
        out = (attn @ v.to(attn.dtype)).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(out))


def keep_autocast_precision(module: nn.Module) -> nn.Module:
    """Make every MONAI ``WindowAttention`` in ``module`` an :class:`AutocastWindowAttention`, in place.

    The class is swapped, nothing else: same parameters, buffers and state-dict keys. Returns ``module``.
    """
    for m in module.modules():
        if type(m) is WindowAttention:
            m.__class__ = AutocastWindowAttention
    return module
