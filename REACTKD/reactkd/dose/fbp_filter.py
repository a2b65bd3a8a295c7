r"""Ramp filter of filtered back projection, with its apodisation windows.

The ramp is built in the spatial domain (Kak & Slaney [1], eq. 3.61),

.. math::

    h(0) = \frac{1}{4\Delta t^2}, \qquad h(n) = -\frac{1}{(n\pi\Delta t)^2} \text{ for odd } n,
    \qquad h(n) = 0 \text{ for even } n \ne 0,

and applied by FFT with zero padding to at least :math:`2T` bins: sampling :math:`|\omega|` directly in
frequency would give a DC offset and cupping. Windows as in scikit-image ``iradon``.

References:
    [1] Kak AC, Slaney M. "Principles of Computerized Tomographic Imaging." IEEE Press, 1988, ch. 3.
"""

from __future__ import annotations

import math
from enum import Enum

import torch

__all__ = ["FBPFilter", "ramp_filter", "apply_filter"]


class FBPFilter(str, Enum):
    """Apodisation window multiplying the ramp filter of filtered back projection.

    ``HANN`` (default everywhere in :mod:`reactkd.dose`) resembles a soft-tissue reconstruction
    kernel; ``RAMP`` is unapodised (sharpest, noisiest); the others lie between.
    """

    RAMP = "ramp"
    SHEPP_LOGAN = "shepp-logan"
    COSINE = "cosine"
    HAMMING = "hamming"
    HANN = "hann"


def ramp_filter(dt: float, n_bins: int, window: FBPFilter | str = FBPFilter.HANN) -> torch.Tensor:
    """Frequency response of the apodised ramp for sinograms of ``n_bins`` bins of width ``dt`` mm.

    Returns:
        ``(n_fft // 2 + 1,)`` float32, ``n_fft`` the power of two >= ``2 * n_bins``; includes the
        factor ``dt`` of the discrete convolution.

    Raises:
        ValueError: for an unknown ``window``.
    """
    window = FBPFilter(window)
    n_fft = 1 << math.ceil(math.log2(2 * n_bins))
    n = torch.arange(n_fft, dtype=torch.float64)
    n = torch.minimum(n, n_fft - n)  # circular distance: h is even
    h = torch.where(n % 2 == 1, -1.0 / (math.pi * n * dt) ** 2, torch.zeros_like(n))
    h[0] = 1.0 / (4 * dt**2)
    freq = torch.fft.rfftfreq(n_fft, dtype=torch.float64)  # cycles per bin, 0 to 0.5
    return (torch.fft.rfft(h).real * dt * _window(window, freq)).to(torch.float32)


def apply_filter(sino: torch.Tensor, response: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Filter ``sino`` along ``dim`` (its bins) with a :func:`ramp_filter` response; same shape out."""
    n_fft, n_bins = 2 * (response.shape[0] - 1), sino.shape[dim]
    shape = [1] * sino.ndim
    shape[dim] = response.shape[0]
    spec = torch.fft.rfft(sino, n=n_fft, dim=dim) * response.reshape(shape)
    return torch.fft.irfft(spec, n=n_fft, dim=dim).narrow(dim, 0, n_bins)


def _window(window: FBPFilter, freq: torch.Tensor) -> torch.Tensor:
    if window is FBPFilter.RAMP:
        return torch.ones_like(freq)
    if window is FBPFilter.SHEPP_LOGAN:
        return torch.sinc(freq)
    if window is FBPFilter.COSINE:
        return torch.cos(math.pi * freq)
    if window is FBPFilter.HAMMING:
        return 0.54 + 0.46 * torch.cos(2 * math.pi * freq)
    return 0.5 + 0.5 * torch.cos(2 * math.pi * freq)  # HANN
