"""Per-feature standardisation of a head's features: batch statistics in training, running ones at inference."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Standardize"]


class Standardize(nn.Module):
    """``x (..., F)`` → ``(x − μ) / σ`` per feature, over the rows ``keep`` selects (BatchNorm without affine).

    A head's features mix scales: a tumour-to-liver contrast of the z-scored CT is ~0.1, a log volume
    ratio −7…0, pooled network activations anything. A linear classifier trained for a few hundred steps
    with a shared learning rate then moves the weights of the small-scale (and often the most informative)
    features least. Standardising first makes every feature's step equal, as scikit-learn's
    ``StandardScaler`` does before a logistic regression. In training the statistics are the batch's
    (rows where ``keep``: real graph nodes, not padding) and update running estimates (``momentum``); at
    inference, and for a training batch of a single row, the running estimates are used. No affine
    parameters: the linear layer that follows has them.

    Args:
        features: ``F``.
        momentum: running-estimate update per training batch. Default 0.1 (BatchNorm's).
        eps: added to the variance. Default 1e-5.
    """

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        if features < 1:
            raise ValueError(f"`features` must be >= 1, got {features!r}.")
        self.momentum, self.eps = float(momentum), float(eps)
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] != self.running_mean.numel():
            raise ValueError(f"expected {self.running_mean.numel()} features in the last dim, got {tuple(x.shape)}.")
        rows = x if keep is None else x[keep]
        flat = rows.reshape(-1, x.shape[-1])
        batch_stats = self.training and flat.shape[0] > 1
        normed = F.batch_norm(flat.float(), self.running_mean, self.running_var, None, None, batch_stats,
                              self.momentum, self.eps).to(x.dtype)
        if keep is None:
            return normed.reshape(x.shape)
        out = x.clone()
        out[keep] = normed
        return out
