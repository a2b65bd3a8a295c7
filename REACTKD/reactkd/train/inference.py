"""Load a trained student (checkpoint file or run folder) and explain a prediction per region-graph node.

Node attention (the "topology map"): a student whose head reads the graph out by attention
(:class:`~reactkd.models.graph_head.GraphHead`, anything with ``node_attention(out, roi_masks)``) gives
that readout's own weights — the nodes the classifier actually used. Otherwise it is gradient-weighted
node contribution: Grad-CAM (Selvaraju et al., ICCV 2017) on the student's fused, CBAM-gated feature map
for the predicted grade — ReLU of the channel-weighted sum of activations, weights = spatially averaged
gradients — pooled over each ROI with its area-weighted mask, then normalised to sum to 1 over the nodes.
A node's value is the share of the evidence for the predicted grade that lies in that region.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from reactkd.graph.pooling import area_resize
from reactkd.models import Student, student_spec
from reactkd.train.checkpoint import load_checkpoint

__all__ = ["load_student", "best_checkpoint", "node_attention", "attention_definition"]

GRAD_CAM = "Grad-CAM of the predicted grade on the CBAM-gated fused map, pooled per ROI, sums to 1"
READOUT = ("the graph head's gated-attention readout weights over the tumour nodes (all on the liver "
           "without a tumour), sums to 1")


def _reads_out_attention(student) -> bool:
    return callable(getattr(student.head, "node_attention", None))


def attention_definition(student) -> str:
    """What :func:`node_attention` reports for this student (the prediction's ``attention_definition``)."""
    return READOUT if _reads_out_attention(student) else GRAD_CAM


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
    """Returns ``(student in eval mode, metadata)``; checkpoints of earlier versions (flat model keys)
    load through :func:`~reactkd.models.spec.upgrade_network_keys`."""
    path = best_checkpoint(model)
    state, meta = load_checkpoint(path, map_location=device)
    if meta.get("kind") != "student":
        raise ValueError(f"{path} holds a {meta.get('kind')!r} checkpoint, not a student.")
    student = Student(student_spec(meta["model_kwargs"], "model_kwargs"))
    student.load_state_dict(state["model"])
    return student.to(device).eval(), meta


def node_attention(student, batch: dict):
    """Predict one case and attribute the predicted grade to its ROI nodes.

    Args:
        batch: a one-case batch (:func:`reactkd.cohort.collate_cases`) with ``roi_masks`` ``(1, R, D, H, W)``
            and, for a PET student, the declared ``modality_mask`` ``(1, 2)``.

    Returns:
        ``(probabilities (3,), attention (R,))`` numpy arrays; attention sums to 1 (Grad-CAM: uniform if all
        zero; a graph head: its readout weights, see :func:`attention_definition`).
    """
    student.eval()
    if _reads_out_attention(student):
        with torch.no_grad():
            x, mask, roi_masks = student.inputs(batch)
            out = student.backbone(x, mask)
            _, logits = student.head(out, roi_masks)
            attention = student.head.node_attention(out, roi_masks)[0].double()
        return torch.softmax(logits, 1)[0].cpu().numpy(), attention.cpu().numpy()
    with torch.enable_grad():
        feats = student.forward_features(*student.inputs(batch))
        fused = feats.fused
        fused.retain_grad()
        logits = feats.logits
        grade = int(logits.argmax(1))
        logits[0, grade].backward()
    weights = fused.grad.mean(dim=(2, 3, 4), keepdim=True)
    cam = torch.relu((weights * fused).sum(1, keepdim=True)).detach()  # (1, 1, d, h, w)
    masks = area_resize(batch["roi_masks"].float(), cam.shape[-3:])  # (1, R, d, h, w)
    per_node = (masks * cam).flatten(2).sum(-1)[0] / masks.flatten(2).sum(-1)[0].clamp_min(1e-6)
    total = float(per_node.sum())
    attention = per_node / total if total > 0 else torch.full_like(per_node, 1.0 / len(per_node))
    probs = torch.softmax(logits.detach(), 1)[0]
    return probs.cpu().numpy(), attention.cpu().numpy().astype(np.float64)
