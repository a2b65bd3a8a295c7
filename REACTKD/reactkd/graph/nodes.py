"""Region-graph nodes and edges from feature maps: one node per ROI (masked average pooling), cosine
adjacency between nodes, and the uniform patch masks of an anatomy-free graph."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from reactkd.graph.pooling import area_resize, masked_average_pool

__all__ = ["region_nodes", "uniform_patch_masks", "cosine_adjacency"]


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
