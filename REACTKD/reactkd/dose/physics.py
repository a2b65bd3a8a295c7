r"""Physics of the low-dose simulation: attenuation units, incident flux and Zeng's noise model.

The acquired scan is treated as the normal-dose measurement. Its transmitted counts per ray are
:math:`\bar I = I_0 e^{-p}` (:math:`p` the line integral of attenuation), measured with Poisson quantum
noise and Gaussian electronic noise of variance :math:`\sigma_e^2`. A scan at dose fraction :math:`k`
has mean :math:`k\bar I` and variance :math:`k\bar I + \sigma_e^2`. Zeng et al. [1] obtain it from the
normal-dose data by adding independent noise with the missing variance (moment matching, Gaussian
approximation of the Poisson law). Here the normal-dose counts come from re-projecting the image:

.. math::

    \tilde I_{ld} = k\,\bar I + \sqrt{k(1-k)\,\bar I + (1-k^2)\,\sigma_e^2}\;\xi,
    \qquad \xi \sim \mathcal N(0, 1),

so that :math:`\operatorname{Var}\tilde I_{ld} = k\bar I + \sigma_e^2`. After the log transform the
added sinogram variance is :math:`\approx (1-k)/(k\bar I) + (1-k^2)\sigma_e^2/(k\bar I)^2`: the added
image variance grows as :math:`(1-k)/k` and the total (acquired + added) as :math:`1/k` where quantum
noise dominates.

References:
    [1] Zeng D, Huang J, Bian Z, Niu S, Zhang H, Feng Q, Liang Z, Ma J. "A simple low-dose x-ray CT
        simulation from high-dose scan." IEEE Trans Nucl Sci 62(5):2226-2233, 2015.
    [2] Hubbell JH, Seltzer SM. "Tables of X-ray mass attenuation coefficients and mass
        energy-absorption coefficients" (NIST Standard Reference Database 126): water
        mu/rho = 0.2059 cm^2/g at 60 keV and 0.1837 cm^2/g at 80 keV.
    [3] Brooks RA, Di Chiro G. "Statistical limitations in x-ray reconstructive tomography."
        Med Phys 3(4):237-240, 1976 (image variance ~ 1 / (dose * w^3 * h)).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "MU_WATER",
    "FLUENCE",
    "ELECTRONIC_NOISE_VAR",
    "MIN_COUNTS",
    "hu_to_mu",
    "mu_to_hu",
    "photons_per_ray",
    "zeng_log_noise",
    "acquisition_log_noise",
    "seed_for",
]

MU_WATER = 0.0192
"""Linear attenuation of water in 1/mm at the ~70 keV effective energy of a 120 kVp beam [2]."""

FLUENCE = 1.0e8
r"""Incident photons per mm\ :sup:`2` of detector (at the isocentre) summed over the views of a half
rotation, at the acquired dose. Per ray and view this is :func:`photons_per_ray`; with 1 mm bins and
1000 views it gives :math:`I_0 = 10^5` per ray and view (Zeng et al.'s code expects 1e5 to 1e6); it puts
~15 HU of noise in a 30 cm water cylinder at 0.75 mm x 5 mm (see :mod:`reactkd.dose.simulate`)."""

ELECTRONIC_NOISE_VAR = 11.0
r""":math:`\sigma_e^2` of the detector's electronic noise, in counts squared per ray reading (the value of
Zeng et al.'s demonstration code, which pairs it with k = 0.1924 for 17 vs 100 mAs)."""

MIN_COUNTS = 1.0
"""Floor applied to simulated counts before the log, so photon starvation gives a finite line integral."""


def hu_to_mu(hu: torch.Tensor, mu_water: float = MU_WATER) -> torch.Tensor:
    r""":math:`\mu = \mu_w (1 + HU/1000)`, clipped at 0 (anything below air is air)."""
    return torch.clamp(hu, min=-1000.0).add(1000.0).mul(mu_water / 1000.0)


def mu_to_hu(mu: torch.Tensor, mu_water: float = MU_WATER) -> torch.Tensor:
    r""":math:`HU = 1000\,(\mu/\mu_w - 1)`."""
    return mu.mul(1000.0 / mu_water).sub(1000.0)


def photons_per_ray(fluence: float, bin_width: float, slice_thickness: float, n_views: int) -> float:
    r"""Incident photons :math:`I_0` on one detector bin in one view.

    .. math:: I_0 = \Phi\,\Delta t\,\Delta z / A

    Spreading a fixed fluence :math:`\Phi` over the simulated views and bins keeps the image noise
    independent of the sampling chosen (number of views, bin width) and makes it scale with the voxel
    size as in a real scanner, :math:`\sigma^2 \propto 1/(\Phi\,\Delta t^3\,\Delta z)` for the ramp
    filter [3].

    Args:
        fluence: :math:`\Phi`, photons per mm^2 over a half rotation, > 0.
        bin_width: :math:`\Delta t` in mm. slice_thickness: :math:`\Delta z` in mm. n_views: :math:`A`.
    """
    return float(fluence) * float(bin_width) * float(slice_thickness) / int(n_views)


def zeng_log_noise(
    line_integrals: torch.Tensor,
    fraction: float,
    i0: float,
    electronic_noise_var: float = ELECTRONIC_NOISE_VAR,
    generator: torch.Generator | None = None,
    min_counts: float = MIN_COUNTS,
) -> torch.Tensor:
    r"""Change of each line integral when the dose falls to ``fraction`` (Zeng et al. [1]).

    .. math::

        \Delta p = -\ln \frac{\max(\tilde I_{ld},\, c_{min})}{k \bar I}, \qquad \bar I = I_0 e^{-p}

    (the safe log: counts at or below 0 are floored at ``min_counts``). The low-dose line integral is
    :math:`p + \Delta p`. For ``fraction == 1`` the result is exactly zero.

    Args:
        line_integrals: :math:`p`, any shape, dimensionless (attenuation x mm), >= 0.
        fraction: :math:`k` in ``(0, 1]``.
        i0: incident photons per ray at the acquired dose, > 0.
        electronic_noise_var: :math:`\sigma_e^2` >= 0, counts^2.
        generator: torch random generator (for reproducible draws).
        min_counts: floor before the log, > 0.

    Returns:
        :math:`\Delta p`, same shape and dtype as ``line_integrals``.
    """
    k = float(fraction)
    if k >= 1.0:
        return torch.zeros_like(line_integrals)
    counts = torch.exp(-line_integrals).mul_(i0)  # \bar I, the acquired counts
    std = torch.sqrt(counts * (k * (1.0 - k)) + (1.0 - k * k) * electronic_noise_var)
    xi = torch.randn(line_integrals.shape, generator=generator, dtype=line_integrals.dtype,
                     device=line_integrals.device)
    expected = counts.mul_(k)  # k \bar I, in place: counts is no longer needed
    noisy = torch.clamp(expected + std * xi, min=min_counts)
    return torch.log(expected.div_(noisy))


def acquisition_log_noise(
    line_integrals: torch.Tensor,
    i0: float,
    electronic_noise_var: float = ELECTRONIC_NOISE_VAR,
    generator: torch.Generator | None = None,
    min_counts: float = MIN_COUNTS,
) -> torch.Tensor:
    r"""Measurement error of each line integral in an acquisition with :math:`I_0` photons per ray.

    The detector reads :math:`I = \mathrm{Poisson}(\bar I) + \sigma_e\,\xi`, :math:`\bar I = I_0 e^{-p}`
    (quantum plus electronic noise, the model of Zeng et al. [1] at the acquired dose), and the
    scanner logs it: :math:`\hat p = -\ln(\max(I, c_{min}) / I_0)`. Returns :math:`\hat p - p`, whose
    variance is :math:`\approx 1/\bar I + \sigma_e^2/\bar I^2` (delta method).

    Args:
        line_integrals: :math:`p` of the noise-free object, any shape, >= 0.
        i0: incident photons per ray and view, > 0.
        electronic_noise_var: :math:`\sigma_e^2` >= 0, counts^2.
        generator: torch random generator (reproducible draws).
        min_counts: floor before the log, > 0.
    """
    expected = torch.exp(-line_integrals).mul_(i0)
    counts = torch.poisson(expected.double(), generator=generator).to(line_integrals.dtype)
    if electronic_noise_var > 0:
        xi = torch.randn(line_integrals.shape, generator=generator, dtype=line_integrals.dtype,
                         device=line_integrals.device)
        counts.add_(xi.mul_(math.sqrt(electronic_noise_var)))
    return torch.log(expected.div_(torch.clamp(counts, min=min_counts)))


def seed_for(seed: int, *stream: int) -> int:
    """A 63-bit torch seed for sub-stream ``stream`` of ``seed`` (independent streams per block)."""
    state = np.random.SeedSequence([int(seed), *map(int, stream)]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])
