"""Probability calibration: temperature scaling, expected calibration error and reliability bins.

Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, §4.2) divides a
network's logits by one scalar ``T > 0`` fitted to minimise the negative log-likelihood on held-out
validation cases; ``argmax`` (the grade) never changes, only how sure the probabilities say it is.
``T`` is fitted here over ``log T`` (so it stays positive) with L-BFGS, as in the paper's reference code.

ECE (Guo et al. 2017, eq. 3; Naeini et al., AAAI 2015): cases binned by their top-label confidence into
``M`` equal-width bins, ``ECE = Σ_m |B_m|/n · |acc(B_m) − conf(B_m)|``. The reliability diagram plots
``acc(B_m)`` against ``conf(B_m)``; a calibrated model lies on the diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["fit_temperature", "scaled_probabilities", "expected_calibration_error", "reliability_bins",
           "ReliabilityBins", "negative_log_likelihood"]

MIN_T, MAX_T = 0.05, 20.0
"""The fitted temperature is clipped to this range: with a handful of validation cases all right (or one
confidently wrong) the NLL keeps falling towards T → 0 (or ∞); the clip keeps a tiny fold sane."""


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits, labels = np.asarray(logits, np.float64), np.asarray(labels)
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"`logits` must be (N, K) with N >= 1, got shape {logits.shape}.")
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"`labels` must be (N,) = ({logits.shape[0]},), got shape {labels.shape}.")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"`labels` must be class indices in [0, {logits.shape[1] - 1}], "
                         f"got {labels.min()}..{labels.max()}.")
    return logits, labels.astype(np.int64)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean NLL of ``softmax(logits / T)``; logits ``(N, K)``, labels ``(N,)`` 0-based."""
    logits, labels = _check(logits, labels)
    z = torch.from_numpy(logits) / temperature
    return float(torch.nn.functional.cross_entropy(z, torch.from_numpy(labels)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_iter: int = 200) -> float:
    """The temperature ``T`` minimising the validation NLL of ``softmax(logits / T)`` (L-BFGS on ``log T``).

    Args:
        logits: ``(N, K)`` validation logits; labels: ``(N,)`` class indices (0-based).

    Returns:
        ``T`` in [:data:`MIN_T`, :data:`MAX_T`].
    """
    logits, labels = _check(logits, labels)
    z, y = torch.from_numpy(logits), torch.from_numpy(labels)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z / log_t.exp(), y)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    return float(np.clip(t if np.isfinite(t) else 1.0, MIN_T, MAX_T))


def scaled_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / T)`` row-wise, ``(N, K)`` → ``(N, K)`` (numerically stable)."""
    z = np.asarray(logits, np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class ReliabilityBins:
    """Per confidence bin (``M`` equal-width bins over [0, 1]): ``edges`` (M+1,), ``confidence`` (M,) mean
    top-label probability, ``accuracy`` (M,) share correct, ``count`` (M,); empty bins hold NaN."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def ece(self) -> float:
        n = self.count.sum()
        used = self.count > 0
        return float((self.count[used] / n * np.abs(self.accuracy[used] - self.confidence[used])).sum())


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> ReliabilityBins:
    """Bin cases by top-label confidence; probs ``(N, K)``, labels ``(N,)`` 0-based."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    _check(probs, labels)
    if n_bins < 1:
        raise ValueError(f"`n_bins` must be >= 1, got {n_bins}.")
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)  # bins (a, b], first [0, b]
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(index, conf, n_bins) / count
        accuracy = np.bincount(index, correct.astype(float), n_bins) / count
    return ReliabilityBins(edges, confidence, accuracy, count)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """Top-label ECE over ``n_bins`` equal-width confidence bins (Guo et al. 2017, eq. 3)."""
    return reliability_bins(probs, labels, n_bins).ece
