"""Load a trained student (checkpoint file or run folder) and explain a prediction per region-graph node.

Node attention (the "topology map") is gradient-weighted node contribution: Grad-CAM (Selvaraju et al.,
ICCV 2017) on the student's fused, CBAM-gated feature map for the predicted grade — ReLU of the
channel-weighted sum of activations, weights = spatially averaged gradients — pooled over each ROI with
its area-weighted mask, then normalised to sum to 1 over the nodes. A node's value is the share of the
evidence for the predicted grade that lies in that region.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from reactkd.graph.pooling import area_resize
from reactkd.train.checkpoint import load_checkpoint

__all__ = ["load_student", "best_checkpoint", "node_attention", "attribute_nodes", "standalone_student_kwargs"]


def standalone_student_kwargs(student_kwargs: dict, teacher_kwargs: dict, fusion_channels: int) -> dict:
    """Kwargs that rebuild the student without its teacher (own CBAM3D of the shared one's shape)."""
    kw = {k: v for k, v in student_kwargs.items() if k not in ("cbam", "cbam_trainable")}
    kw["fusion_channels"] = fusion_channels
    kw.setdefault("cbam_reduction", teacher_kwargs.get("cbam_reduction", 8))
    kw.setdefault("cbam_kernel", teacher_kwargs.get("cbam_kernel", 7))
    kw.setdefault("use_cbam", teacher_kwargs.get("use_cbam", True))
    return kw


def best_checkpoint(model: str | Path) -> Path:
    """A checkpoint file as given, or in a run folder the fold student with the best validation metric.

    Raises:
        FileNotFoundError: no such file, or a folder without ``fold*/student/best.pt``.
    """
    path = Path(model)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"model not found: {path} (give a checkpoint file or a run folder)")
    candidates = sorted(path.glob("fold*/student/best.pt"))
    if not candidates:
        raise FileNotFoundError(f"{path} holds no trained student (fold*/student/best.pt).")

    def score(p: Path) -> float:
        done = p.parent / "done.json"
        return json.loads(done.read_text()).get("best_metric", -1.0) if done.is_file() else -1.0

    return max(candidates, key=score)


def load_student(model: str | Path, device: str | torch.device = "cpu"):
    """Returns ``(student in eval mode, metadata)``."""
    from reactkd.models import Student

    path = best_checkpoint(model)
    state, meta = load_checkpoint(path, map_location=device)
    if meta.get("kind") != "student":
        raise ValueError(f"{path} holds a {meta.get('kind')!r} checkpoint, not a student.")
    student = Student(**meta["model_kwargs"])
    student.load_state_dict(state["model"])
    return student.to(device).eval(), meta


def node_attention(student, batch: dict):
    """Predict one case and attribute the predicted grade to its ROI nodes.

    Args:
        batch: a one-case batch (:func:`reactkd.cohort.collate_cases`) with ``roi_masks`` ``(1, R, D, H, W)``
            and, for a PET student, the declared ``modality_mask`` ``(1, 2)``.

    Returns:
        ``(probabilities (3,), attention (R,))`` numpy arrays; attention sums to 1 (uniform if all zero).
    """
    probs, attention, _ = attribute_nodes(student, batch)
    return probs, attention


def attribute_nodes(student, batch: dict):
    """:func:`node_attention` plus the CBAM-gated fused map ``(1, C, d, h, w)`` (detached) it was read from.

    Grad-CAM needs only d(logit)/d(fused map): ``torch.autograd.grad`` with the fused map as the only input
    walks the head's part of the graph alone, not the whole encoder, and leaves no ``.grad`` on the weights.
    Runs in the caller's autocast context; the attribution itself is computed in float32.
    """
    student.eval()
    with torch.enable_grad():
        x, mask = student.batch_inputs(batch)
        feats = student.forward_features(x, mask, batch["roi_masks"])
        fused, logits = feats.fused, feats.logits
        grade = int(logits.argmax(1))
        (grad,) = torch.autograd.grad(logits[0, grade], fused)
    weights = grad.float().mean(dim=(2, 3, 4), keepdim=True)
    fused = fused.detach()
    cam = torch.relu((weights * fused.float()).sum(1, keepdim=True))  # (1, 1, d, h, w)
    masks = area_resize(batch["roi_masks"].float(), cam.shape[-3:])  # (1, R, d, h, w)
    per_node = (masks * cam).flatten(2).sum(-1)[0] / masks.flatten(2).sum(-1)[0].clamp_min(1e-6)
    total = float(per_node.sum())
    attention = per_node / total if total > 0 else torch.full_like(per_node, 1.0 / len(per_node))
    probs = torch.softmax(logits.detach().float(), 1)[0]
    return probs.cpu().numpy(), attention.cpu().numpy().astype(np.float64), fused
