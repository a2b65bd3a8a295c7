"""Region graphs from ROI masks and their node / edge alignment losses."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from reactkd.graph.pooling import area_resize, masked_average_pool

__all__ = ["region_nodes", "uniform_patch_masks", "cosine_adjacency", "node_alignment_loss", "edge_alignment_loss"]


def region_nodes(features: torch.Tensor, roi_masks: torch.Tensor) -> torch.Tensor:
    """One node per ROI: masked average pooling of ``features`` over area-resized masks.

    Args:
        features: ``(B, C, d, h, w)`` a chosen encoder level.
        roi_masks: ``(B, R, D, H, W)`` masks in [0, 1] on the model grid (node 0 liver, 1..k tumours),
            area-weighted to ``(d, h, w)`` so that a tumour smaller than a feature voxel keeps its mass.

    Returns:
        ``(B, R, C)`` node features (zero for empty / padding masks).

    Raises:
        ValueError: from :func:`~reactkd.graph.pooling.area_resize` / ``masked_average_pool`` on bad shapes.
    """
    return masked_average_pool(features, area_resize(roi_masks, features.shape[-3:]).to(features.dtype))


def uniform_patch_masks(
    batch_size: int, spatial_size: Sequence[int], grid: Sequence[int] = (2, 2, 2), device=None
) -> torch.Tensor:
    """Masks of a uniform ``grid`` of patches covering the volume (MSKD's anatomy-free region graph).

    Returns:
        ``(batch_size, prod(grid), D, H, W)`` float masks, one patch per node, row-major over the grid.

    Raises:
        ValueError: if a grid side is < 1 or larger than the matching spatial side.
    """
    size, grid = [int(s) for s in spatial_size], [int(g) for g in grid]
    if len(size) != 3 or len(grid) != 3 or any(g < 1 or g > s for g, s in zip(grid, size)):
        raise ValueError(f"`grid` {tuple(grid)} must be 3 ints in [1, side] for spatial size {tuple(size)}.")
    axes = [torch.div(torch.arange(s, device=device) * g, s, rounding_mode="floor") for s, g in zip(size, grid)]
    cell = (axes[0][:, None, None] * grid[1] + axes[1][None, :, None]) * grid[2] + axes[2][None, None, :]
    masks = F.one_hot(cell, grid[0] * grid[1] * grid[2]).permute(3, 0, 1, 2).float()
    return masks[None].expand(batch_size, -1, -1, -1, -1)


def cosine_adjacency(nodes: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``(B, R, C)`` → ``(B, R, R)`` cosine similarities between nodes (0 for all-zero nodes)."""
    unit = nodes / nodes.norm(dim=-1, keepdim=True).clamp_min(eps)
    return unit @ unit.transpose(-1, -2)


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
