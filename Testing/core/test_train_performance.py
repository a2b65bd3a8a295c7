"""The performance policy: bf16 detection with an fp32 fallback, channels-last-3d batches and weights,
bf16 and channels-last runs agreeing with fp32 within tolerance (teacher and student, tiny models), thread
counts, and Grad-CAM through the head alone giving the full-backward attribution."""

import numpy as np
import pytest
import torch

from reactkd.config import ConfigError, Precision, config_from_mapping
from reactkd.graph.pooling import area_resize
from reactkd.inference.attention import attribute_nodes, node_attention
from reactkd.models import build_student, build_teacher
from reactkd.train import performance
from reactkd.train.performance import (
    PerformancePolicy,
    configure_threads,
    cpu_bf16_support,
    resolve_policy,
    resolve_precision,
    thread_count,
    worker_init,
)
from reactkd.train.runtime import Runtime
from reactkd.train.supervised import SupervisedModel

CPU = torch.device("cpu")
CL = torch.channels_last_3d


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse avx2 {flags}\n\nprocessor\t: 1\n")
    return path


def test_bf16_detected_from_cpu_flags(tmp_path):
    assert cpu_bf16_support(_cpuinfo(tmp_path, "avx512f avx512_bf16 amx_tile amx_bf16")) == "amx_bf16"
    assert cpu_bf16_support(_cpuinfo(tmp_path, "avx512f avx512_bf16")) == "avx512_bf16"
    assert cpu_bf16_support(_cpuinfo(tmp_path, "avx512f avx512_vnni")) is None


def test_auto_precision_is_bf16_only_with_native_support(monkeypatch):
    monkeypatch.setattr(performance, "cpu_bf16_support", lambda: "avx512_bf16")
    assert resolve_precision("auto", CPU) is Precision.BF16
    monkeypatch.setattr(performance, "cpu_bf16_support", lambda: None)
    assert resolve_precision("auto", CPU) is Precision.FP32  # fallback: emulated bf16 is slower than fp32
    assert resolve_precision("bf16", CPU) is Precision.BF16  # an explicit choice stands
    assert Runtime.create("cpu", "auto").precision is Precision.FP32


def test_config_accepts_auto_precision():
    assert config_from_mapping({"precision": "auto"}).precision is Precision.AUTO
    with pytest.raises(ConfigError, match="`precision` must be one of"):
        config_from_mapping({"precision": "fastest"})


def test_runtime_puts_batches_and_weights_in_channels_last():
    rt = Runtime.create("cpu", "fp32")
    assert rt.memory_format is CL and rt.policy.memory_format is CL
    batch = rt.to_device({"pet": torch.randn(1, 2, 8, 8, 8), "roi_valid": torch.ones(1, 2, dtype=torch.bool),
                          "label": torch.tensor([1]), "pet_present": torch.ones(1, 2, dtype=torch.bool),
                          "case_id": ["a"]})
    assert batch["pet"].is_contiguous(memory_format=CL) and not batch["pet"].is_contiguous()
    assert batch["label"].dtype == torch.int64 and batch["case_id"] == ["a"]
    student = rt.prepare_model(build_student(None, init_filters=8, fusion_channels=8, blocks_down=(1, 1)))
    conv = student.backbone.encoder.convInit.conv
    assert conv.weight.is_contiguous(memory_format=CL)


def _tiny_batch(n=2, size=32):
    g = torch.Generator().manual_seed(0)
    masks = torch.zeros(n, 3, size, size, size)
    masks[:, 0, 4:28, 4:28, 4:28] = 1
    masks[:, 1, 8:14, 8:14, 8:14] = 1
    masks[0, 2, 18:24, 16:22, 18:24] = 1
    return {"ct": torch.randn(n, 1, size, size, size, generator=g),
            "pet": torch.randn(n, 2, size, size, size, generator=g),
            "ct_lowdose": torch.randn(n, 1, size, size, size, generator=g), "roi_masks": masks,
            "roi_valid": torch.tensor([[True, True, True], [True, True, False]])[:n],
            "pet_present": torch.ones(n, 2, dtype=torch.bool), "label": torch.tensor([0, 2])[:n]}


REGION = {"kind": "region", "sources": ["fused", "level0"], "norm": "none"}


def _tiny(net: str):
    torch.manual_seed(0)
    teacher = build_teacher(feature_size=12, fusion_channels=16, window_size=4, depths=[1, 1, 1, 1], fusion_level=2,
                            head=REGION, roi_channels=True)
    if net == "teacher":
        return teacher
    return build_student(teacher, init_filters=8, pet_channels=2, blocks_down=[1, 1, 1], head=REGION,
                         roi_channels=True, modality_dropout=0.0)


def _run(net: str, policy: PerformancePolicy):
    """Logits of the tiny net, and its loss and first-layer gradient after one training forward/backward."""
    model = SupervisedModel(_tiny(net))
    policy.prepare_model(model)
    batch = policy.to_device(_tiny_batch())
    model.eval()
    with torch.no_grad(), policy.autocast():
        logits = model(batch).float()
    model.train()
    with policy.autocast():
        _, losses = model(batch)
        loss = sum(losses.values())
    loss.backward()
    first = next(p for p in model.parameters() if p.requires_grad and p.grad is not None)
    return logits, float(loss.detach()), first.grad.float().contiguous()


@pytest.mark.parametrize("net", ["student", "teacher"])
def test_channels_last_and_bf16_agree_with_fp32(net):
    logits, loss, grad = _run(net, PerformancePolicy(CPU, Precision.FP32, torch.contiguous_format))
    logits_cl, loss_cl, grad_cl = _run(net, PerformancePolicy(CPU, Precision.FP32, CL))
    # channels-last only reorders memory: fp32 results agree to rounding
    torch.testing.assert_close(logits_cl, logits, rtol=1e-4, atol=1e-4)
    assert loss_cl == pytest.approx(loss, rel=1e-4)
    torch.testing.assert_close(grad_cl, grad, rtol=1e-3, atol=1e-5)
    logits_bf, loss_bf, grad_bf = _run(net, PerformancePolicy(CPU, Precision.BF16, CL))
    # bf16 keeps 8 mantissa bits (relative error ~2^-8 per op): logits and loss within a few per cent
    torch.testing.assert_close(logits_bf, logits, rtol=0.05, atol=0.05)
    assert loss_bf == pytest.approx(loss, rel=0.05)
    cosine = torch.nn.functional.cosine_similarity(grad_bf.flatten(), grad.flatten(), dim=0)
    assert cosine > 0.98  # the same descent direction


def _reference_attention(student, batch):
    """Grad-CAM with a backward pass through the whole student (the definition)."""
    with torch.enable_grad():
        x, mask, _ = student.inputs(batch)
        feats = student.forward_features(x, mask, batch["roi_masks"])
        feats.fused.retain_grad()
        feats.logits[0, int(feats.logits.argmax(1))].backward()
    cam = torch.relu((feats.fused.grad.mean(dim=(2, 3, 4), keepdim=True) * feats.fused).sum(1, keepdim=True)).detach()
    masks = area_resize(batch["roi_masks"].float(), cam.shape[-3:])
    per_node = (masks * cam).flatten(2).sum(-1)[0] / masks.flatten(2).sum(-1)[0].clamp_min(1e-6)
    return per_node / per_node.sum()


def test_head_only_grad_cam_equals_the_full_backward():
    student = _tiny("student").eval()
    batch = {k: v[:1] for k, v in _tiny_batch().items()}
    batch["modality_mask"] = torch.tensor([[True, True]])
    expected = _reference_attention(student, batch).numpy()
    student.zero_grad()
    probs, attention, fused = attribute_nodes(student, batch)
    np.testing.assert_allclose(attention, expected, rtol=1e-4, atol=1e-6)
    assert np.isclose(attention.sum(), 1.0) and probs.shape == (3,) and fused.ndim == 5
    assert not fused.requires_grad
    assert all(p.grad is None for p in student.parameters())  # only d(logit)/d(fused map) was computed
    np.testing.assert_allclose(node_attention(student, batch)[1], attention, rtol=1e-6)


def test_thread_count_explicit_then_env_then_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert thread_count(5) == 5
    assert thread_count() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert thread_count() >= 1
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS must be a positive integer, got 'many'"):
        thread_count()
    with pytest.raises(ValueError, match="thread count must be a positive integer, got 0"):
        thread_count(0)


def test_workers_run_single_threaded():
    before = torch.get_num_threads()
    try:
        configure_threads(2)
        assert torch.get_num_threads() == 2
        worker_init(0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_policy_resolution_is_concrete():
    policy = resolve_policy(CPU, "fp32")
    assert policy.autocast_dtype is None and policy.memory_format is CL
    bf16 = resolve_policy(CPU, "bf16")
    assert bf16.autocast_dtype is torch.bfloat16 and bf16.memory_format is torch.contiguous_format  # measured faster
    assert resolve_policy(CPU, "bf16", torch.contiguous_format).memory_format is torch.contiguous_format


def test_cpu_torchrun_ranks_split_the_cores(monkeypatch):
    from reactkd.train import runtime

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setattr(runtime, "thread_count", lambda: 4)
    assert runtime._per_rank_threads(2) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert runtime._per_rank_threads(2) is None  # an explicit setting wins
