"""Explain a prediction per region-graph node (the "topology map").

A student whose head reads the graph out by attention (:class:`~reactkd.models.graph_head.GraphHead`,
anything with ``node_attention(out, roi_masks)``) gives that readout's own weights — the nodes the
classifier actually used. Otherwise it is gradient-weighted node contribution: Grad-CAM (Selvaraju et al.,
ICCV 2017) on the student's fused, CBAM-gated feature map for the predicted grade — ReLU of the
channel-weighted sum of activations, weights = spatially averaged gradients — pooled over each ROI with its
area-weighted mask, then normalised to sum to 1 over the nodes. A node's value is the share of the evidence
for the predicted grade that lies in that region.
"""

from __future__ import annotations

import numpy as np
import torch

from reactkd.graph import region_nodes

__all__ = ["node_attention", "attribute_nodes", "attention_definition", "cam_source", "GRAD_CAM", "READOUT"]

GRAD_CAM = ("Grad-CAM of the predicted grade on the CBAM-gated fused map (or, for a head that does not read "
            "it, on the first map the head pools), pooled per ROI, sums to 1")
READOUT = ("the graph head's gated-attention readout weights over the tumour nodes (all on the liver "
           "without a tumour), sums to 1")


def _reads_out_attention(student) -> bool:
    return callable(getattr(student.head, "node_attention", None))


def attention_definition(student) -> str:
    """What :func:`node_attention` reports for this student (the prediction's ``attention_definition``)."""
    return READOUT if _reads_out_attention(student) else GRAD_CAM


def node_attention(student, batch: dict):
    """Predict one case and attribute the predicted grade to its ROI nodes.

    Args:
        batch: a one-case batch (:func:`reactkd.cohort.collate_cases`) with ``roi_masks`` ``(1, R, D, H, W)``
            and, for a PET student, the declared ``modality_mask`` ``(1, 2)``.

    Returns:
        ``(probabilities (3,), attention (R,))`` numpy arrays; attention sums to 1 (Grad-CAM: uniform if all
        zero; a graph head: its readout weights, see :func:`attention_definition`).
    """
    probs, attention, _ = attribute_nodes(student, batch)
    return probs, attention


def cam_source(head) -> str:
    """The map Grad-CAM is taken on: the fused map when the head reads it (a global-average head always
    does), else the first map the head pools (e.g. ``input`` for a head over ROI statistics)."""
    sources = list(getattr(head, "sources", ["fused"]))
    return "fused" if "fused" in sources else sources[0]


def attribute_nodes(student, batch: dict):
    """:func:`node_attention` plus the CBAM-gated fused map ``(1, C, d, h, w)`` (detached) it was read from.

    Grad-CAM needs only d(logit)/d(fused map): ``torch.autograd.grad`` with the fused map as the only input
    walks the head's part of the graph alone, not the whole encoder, and leaves no ``.grad`` on the weights.
    Runs in the caller's autocast context; the attribution itself is computed in float32.
    """
    student.eval()
    if _reads_out_attention(student):
        with torch.no_grad():
            x, mask, roi_masks = student.inputs(batch)
            out = student.backbone(x, mask)
            _, logits = student.head(out, roi_masks)
            attention = student.head.node_attention(out, roi_masks)[0].double()
        return (torch.softmax(logits.float(), 1)[0].cpu().numpy(), attention.cpu().numpy(),
                out.fused.detach())
    with torch.enable_grad():
        x, mask, roi_masks = student.inputs(batch)
        with torch.no_grad():
            out = student.backbone(x, mask)
        name = cam_source(student.head)
        target = out.source(name).detach().requires_grad_(True)
        _, logits = student.head(out.with_source(name, target), roi_masks)
        grade = int(logits.argmax(1))
        (grad,) = torch.autograd.grad(logits[0, grade], target)
    weights = grad.float().mean(dim=(2, 3, 4), keepdim=True)
    fused = out.fused.detach()
    cam = torch.relu((weights * target.detach().float()).sum(1, keepdim=True))  # (1, 1, d, h, w)
    per_node = region_nodes(cam, batch["roi_masks"].float())[0, :, 0]  # (R,) mean CAM over each ROI
    total = float(per_node.sum())
    attention = per_node / total if total > 0 else torch.full_like(per_node, 1.0 / len(per_node))
    probs = torch.softmax(logits.detach().float(), 1)[0]
    return probs.cpu().numpy(), attention.cpu().numpy().astype(np.float64), fused
