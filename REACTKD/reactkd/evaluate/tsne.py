"""t-SNE of logits or embeddings (scikit-learn), deterministic by seed, safe for small cohorts.

t-SNE [1]_ needs a perplexity well below the number of points; following the check of Rtsne / openTSNE,
the perplexity is lowered to :math:`(n - 1) / 3` when :math:`3 \\cdot \\mathrm{perplexity} > n - 1`, with a
warning. PCA initialisation plus a fixed ``random_state`` make the output repeatable on one machine.

References:
    .. [1] van der Maaten L., Hinton G. Visualizing data using t-SNE. JMLR 9:2579–2605, 2008.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
from sklearn.manifold import TSNE

__all__ = ["effective_perplexity", "tsne_embedding"]


def effective_perplexity(n_samples: int, perplexity: float = 30.0) -> float:
    """``min(perplexity, (n_samples - 1) / 3)``.

    Raises:
        ValueError: ``n_samples`` < 2 or ``perplexity`` <= 0.
    """
    if n_samples < 2:
        raise ValueError(f"t-SNE needs at least 2 samples, got `n_samples` = {n_samples}.")
    if not perplexity > 0:
        raise ValueError(f"`perplexity` must be > 0, got {perplexity!r}.")
    return float(min(perplexity, (n_samples - 1) / 3.0))


def tsne_embedding(features: np.ndarray, *, seed: int = 0, perplexity: float = 30.0, n_components: int = 2,
                   max_iter: int = 1000, standardize: bool = False) -> np.ndarray:
    """Embed ``features`` with t-SNE.

    Args:
        features: logits or embeddings, shape ``(N, D)``, finite, ``N >= 2``.
        seed: ``random_state`` of :class:`sklearn.manifold.TSNE`; default 0.
        perplexity: requested perplexity; default 30, lowered for small ``N`` (see the module docstring).
        n_components: 2 (default) or 3.
        max_iter: optimisation steps, >= 250 (scikit-learn's minimum); default 1000.
        standardize: z-score each feature first (constant features are left at 0); default False.

    Returns:
        float64 array of shape ``(N, n_components)``.

    Warns:
        UserWarning: when the perplexity is lowered.

    Raises:
        ValueError: bad shape, non-finite values, ``N < 2``, or arguments out of range.
    """

    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"`features` must have shape (N, D), got {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError("`features` must be finite, got NaN or inf.")
    if n_components not in (2, 3):
        raise ValueError(f"`n_components` must be 2 or 3, got {n_components!r}.")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 250:
        raise ValueError(f"`max_iter` must be an integer >= 250, got {max_iter!r}.")
    used = effective_perplexity(x.shape[0], perplexity)
    if used < perplexity:
        warnings.warn(f"`perplexity` {perplexity:g} is too large for {x.shape[0]} samples; using {used:.3g}.",
                      UserWarning, stacklevel=2)
    if standardize:
        sd = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    # PCA initialisation needs min(N, D) >= n_components; scikit-learn < 1.5 calls max_iter n_iter
    init = "pca" if min(x.shape) >= n_components else "random"
    steps = "max_iter" if "max_iter" in inspect.signature(TSNE).parameters else "n_iter"
    tsne = TSNE(n_components=n_components, perplexity=used, init=init, learning_rate="auto",
                random_state=seed, **{steps: max_iter})
    return np.asarray(tsne.fit_transform(x), dtype=np.float64)
