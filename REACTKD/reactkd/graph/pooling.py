"""Bring ROI masks to a feature map's resolution by area weighting, and pool features over them (mean, SD)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["area_resize", "masked_average_pool", "masked_std_pool"]


def area_resize(masks: torch.Tensor, spatial_size: tuple[int, int, int] | torch.Size) -> torch.Tensor:
    """Resize ROI masks by area weighting: each output voxel holds the fraction of its volume inside the ROI.

    Point sampling (nearest neighbour) drops a small tumour that falls between feature-map voxels;
    area weighting keeps its total mass (exactly when the input size is a multiple of the output size,
    where ``F.interpolate(mode="area")`` equals block averaging).

    Args:
        masks: ``(B, R, D, H, W)`` or ``(R, D, H, W)`` masks with values in [0, 1] (any float or bool dtype).
        spatial_size: target ``(d, h, w)``, typically ``features.shape[-3:]``.

    Returns:
        Float tensor ``(B, R, d, h, w)`` (or ``(R, d, h, w)``) with values in [0, 1].

    Raises:
        ValueError: if ``masks`` is not 4-D or 5-D, or ``spatial_size`` is not three positive ints.
    """
    if masks.ndim not in (4, 5):
        raise ValueError(f"`masks` must be (B, R, D, H, W) or (R, D, H, W), got shape {tuple(masks.shape)}.")
    size = tuple(int(s) for s in spatial_size)
    if len(size) != 3 or min(size) <= 0:
        raise ValueError(f"`spatial_size` must be three positive ints, got {tuple(spatial_size)}.")
    unbatched = masks.ndim == 4
    x = masks[None] if unbatched else masks
    x = x.float() if not torch.is_floating_point(x) else x
    if tuple(x.shape[-3:]) != size:
        x = F.interpolate(x, size=size, mode="area")
    return x[0] if unbatched else x


def masked_average_pool(features: torch.Tensor, weights: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Weighted global average pooling of features over each ROI (one graph node per ROI).

    .. math:: h_{b,r} = \\frac{\\sum_v w_{b,r,v} f_{b,:,v}}{\\sum_v w_{b,r,v} + \\epsilon}

    Args:
        features: ``(B, C, d, h, w)`` feature map.
        weights: ``(B, R, d, h, w)`` area-weighted ROI masks at the same resolution (see :func:`area_resize`).
        eps: guards empty ROIs (padding nodes), which pool to zero.

    Returns:
        ``(B, R, C)`` node features.

    Raises:
        ValueError: if batch or spatial shapes differ.
    """
    if features.ndim != 5 or weights.ndim != 5:
        raise ValueError(
            f"`features` and `weights` must be 5-D, got {tuple(features.shape)} and {tuple(weights.shape)}."
        )
    if features.shape[0] != weights.shape[0] or features.shape[2:] != weights.shape[2:]:
        raise ValueError(
            f"`features` {tuple(features.shape)} and `weights` {tuple(weights.shape)} "
            "must share batch and spatial size."
        )
    w = weights.to(features.dtype).flatten(2)  # (B, R, V)
    f = features.flatten(2)  # (B, C, V)
    return torch.einsum("brv,bcv->brc", w, f) / (w.sum(-1, keepdim=True) + eps)


def masked_std_pool(features: torch.Tensor, weights: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Weighted standard deviation of features over each ROI: the heterogeneity of a region, not its level.

    .. math:: s_{b,r} = \\sqrt{\\frac{\\sum_v w_{b,r,v} (f_{b,:,v} - h_{b,r})^2}{\\sum_v w_{b,r,v} + \\epsilon}
              + \\epsilon}

    with :math:`h_{b,r}` the weighted mean of :func:`masked_average_pool`. Internal texture and a necrotic
    core are grade-linked CT cues that a mean hides (the phantom's rules, ``cohort/phantom_rules.py``;
    radiomics calls this first-order standard deviation, Zwanenburg et al., IBSI, Radiology 2020). The inner
    ``ε`` keeps the gradient finite on a uniform region.

    Args / Returns / Raises: as :func:`masked_average_pool`.
    """
    # E[f²] − E[f]² in fp32 even under autocast: in bf16 the difference of two near-equal moments is noise.
    f32, w32 = features.float(), weights.float()
    mean = masked_average_pool(f32, w32, eps)  # (B, R, C); validates the shapes
    w = w32.flatten(2)  # (B, R, V)
    f = f32.flatten(2)  # (B, C, V)
    second = torch.einsum("brv,bcv->brc", w, f * f) / (w.sum(-1, keepdim=True) + eps)
    return (second - mean * mean).clamp_min(0.0).add(eps).sqrt().to(features.dtype)
