"""Mixed precision on the CPU: bf16 autocast trains a distiller step with finite losses and gradients;
fp16 without CUDA is refused with a clear error. (CUDA fp16/bf16 needs a GPU machine: see benchmarks.)"""

import pytest
import torch

from reactkd.config import ConfigError
from reactkd.distill import build_distiller
from reactkd.models import build_student, build_teacher
from reactkd.train.runtime import Runtime


def test_bf16_autocast_step_on_cpu():
    rt = Runtime.create("cpu", "bf16")
    t = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=[1, 1, 1, 1], fusion_level=2)
    s = build_student(teacher=t, init_filters=8, pet_channels=2, blocks_down=[1, 1, 1])
    d = build_distiller("reactkd", s, t.requires_grad_(False).eval(), student_level=2, teacher_level=1)
    masks = torch.zeros(2, 2, 32, 32, 32)
    masks[:, 0, 4:28, 4:28, 4:28] = 1
    masks[:, 1, 10:16, 10:16, 10:16] = 1
    batch = {"ct": torch.randn(2, 1, 32, 32, 32), "pet": torch.randn(2, 2, 32, 32, 32),
             "ct_lowdose": torch.randn(2, 1, 32, 32, 32), "roi_masks": masks,
             "roi_valid": torch.ones(2, 2, dtype=torch.bool),
             "pet_present": torch.ones(2, 2, dtype=torch.bool), "label": torch.tensor([0, 2])}
    d.train()
    with rt.autocast():
        logits, losses = d(batch)
        assert logits.dtype == torch.bfloat16  # autocast really ran the convolutions in bf16
    loss = sum(losses.values())
    assert torch.isfinite(loss)
    rt.grad_scaler().scale(loss).backward()
    grads = [p.grad for p in s.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_fp16_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: fp16 is allowed here")
    with pytest.raises(ConfigError, match="fp16` needs CUDA"):
        Runtime.create("cpu", "fp16")
