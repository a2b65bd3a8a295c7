"""Node and edge alignment losses between two region graphs (their nodes: :func:`reactkd.graph.region_nodes`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reactkd.graph.nodes import cosine_adjacency

__all__ = ["node_alignment_loss", "edge_alignment_loss"]


def _check_nodes(name: str, nodes: torch.Tensor, valid: torch.Tensor) -> None:
    if nodes.ndim != 3 or valid.shape != nodes.shape[:2] or valid.dtype != torch.bool:
        raise ValueError(
            f"`{name}` must be (B, R, C) with a (B, R) bool valid mask, got {tuple(nodes.shape)} and "
            f"{tuple(valid.shape)} {valid.dtype}."
        )


def node_alignment_loss(student_nodes: torch.Tensor, teacher_nodes: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean cosine distance between corresponding nodes, over real nodes only.

    .. math:: \\mathcal{L}_{node} = \\frac{1}{|V|}\\sum_{(b,r)\\in V} 1 - \\cos(W h^s_{b,r}, h^t_{b,r})

    Cosine rather than MSE because the teacher's Swin maps are layer-normalised and the student's
    SegResNet maps are not: the loss should align directions, not force the student's scale.

    Args:
        student_nodes: ``(B, R, C)`` student nodes already projected to the teacher's width ``C``.
        teacher_nodes: ``(B, R, C)``.
        valid: ``(B, R)`` bool; padding nodes are ignored.

    Returns:
        Scalar in [0, 2]; 0 (still attached to the graph) when no node is valid.

    Raises:
        ValueError: for mismatched shapes.
    """
    _check_nodes("student_nodes", student_nodes, valid)
    if teacher_nodes.shape != student_nodes.shape:
        raise ValueError(
            f"projected `student_nodes` {tuple(student_nodes.shape)} and `teacher_nodes` "
            f"{tuple(teacher_nodes.shape)} must match."
        )
    dist = 1.0 - F.cosine_similarity(student_nodes, teacher_nodes.to(student_nodes.dtype), dim=-1, eps=1e-8)
    w = valid.to(dist.dtype)
    return (dist * w).sum() / w.sum().clamp_min(1.0)


def edge_alignment_loss(student_nodes: torch.Tensor, teacher_nodes: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the two graphs' cosine-similarity adjacency, over real node pairs.

    .. math:: \\mathcal{L}_{edge} = \\frac{1}{|E|}\\sum_{(b,i,j)\\in E,\\, i\\ne j} (A^s_{b,ij} - A^t_{b,ij})^2

    Widths may differ (each adjacency is computed in its own feature space); the diagonal is excluded
    since it is 1 for every non-empty node. A case with one node has no edges and contributes nothing.

    Args:
        student_nodes: ``(B, R, Cs)``.
        teacher_nodes: ``(B, R, Ct)`` for the same ROIs in the same order.
        valid: ``(B, R)`` bool.

    Returns:
        Scalar in [0, 4]; 0 (still attached to the graph) when no case has two nodes.

    Raises:
        ValueError: for mismatched node counts.
    """
    _check_nodes("student_nodes", student_nodes, valid)
    _check_nodes("teacher_nodes", teacher_nodes, valid)
    a_s = cosine_adjacency(student_nodes)
    a_t = cosine_adjacency(teacher_nodes.to(student_nodes.dtype))
    pair = valid[:, :, None] & valid[:, None, :]
    pair &= ~torch.eye(valid.shape[1], dtype=torch.bool, device=valid.device)
    w = pair.to(a_s.dtype)
    return ((a_s - a_t) ** 2 * w).sum() / w.sum().clamp_min(1.0)
