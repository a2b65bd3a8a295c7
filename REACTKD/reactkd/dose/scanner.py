r"""The project's CT scanner model: a noise-free object in, an acquired CT (with its quantum noise) out.

Per axial slice: HU → attenuation, parallel-beam line integrals
(:class:`~reactkd.dose.projector.ParallelBeamProjector`), detector counts with Poisson quantum and
Gaussian electronic noise at the declared fluence (:func:`~reactkd.dose.physics.acquisition_log_noise`,
:math:`I_0 = \Phi\,\Delta t\,\Delta z / A` photons per ray), log, filtered back projection with the
declared kernel, back to HU. The acquired noise is therefore exactly what
:class:`~reactkd.dose.simulate.LowDoseSimulator` assumes when the same :class:`Acquisition` is given to
it: a reduced dose is the same scanner at fewer photons.

Its predicted noise (:func:`predicted_noise_std`) is the linear propagation of the per-ray variance
:math:`1/\bar I + \sigma_e^2/\bar I^2` through the filter and the back projection — the "what the declared
fluence predicts" that ``Testing/core/test_dose_scanner.py`` checks the Monte Carlo against.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from reactkd.dose.acquisition import Acquisition
from reactkd.dose.fbp_filter import ramp_filter
from reactkd.dose.physics import acquisition_log_noise, hu_to_mu, mu_to_hu, photons_per_ray, seed_for
from reactkd.dose.projector import cached_projector

__all__ = ["acquire", "predicted_noise_std"]

_ACQUISITION_STREAM = 0x5CA7
"""Sub-stream of :func:`~reactkd.dose.physics.seed_for` reserved for acquisitions (low-dose draws use
the plain chunk index), so an acquisition and a later simulation with the same seed are independent."""


def acquire(hu: np.ndarray, spacing: tuple[float, float, float], acquisition: Acquisition, seed: int = 0,
            n_angles: int | None = None) -> np.ndarray:
    """Scan a noise-free HU volume: project, draw counts, log, reconstruct.

    Args:
        hu: ``(Z, Y, X)`` noise-free CT numbers of the object on the acquisition's pixel grid, finite.
        spacing: ``(s_z, s_y, s_x)`` mm (slice thickness, pixel); pixels should be square.
        acquisition: the declared scanner (fluence, kernel, electronic noise, mu_water).
        seed: int >= 0; the same seed and input give the same scan.
        n_angles: views over 180 degrees; default about pi/2 x the slice side.

    Returns:
        ``(Z, Y, X)`` float32 HU: the FBP reconstruction of the noisy sinogram (the kernel also acts on
        the anatomy, as in a real scanner).
    """
    hu = np.asarray(hu, dtype=np.float32)
    if hu.ndim != 3 or min(hu.shape[1:]) < 2 or not np.isfinite(hu).all():
        raise ValueError(f"`hu` must be a finite (Z, Y, X) volume with Y, X >= 2, got shape {hu.shape}.")
    proj = cached_projector(hu.shape[1:], tuple(float(s) for s in spacing[1:]), n_angles)
    i0 = photons_per_ray(acquisition.fluence, proj.dt, float(spacing[0]), proj.n_angles)

    def measure(block: torch.Tensor, index: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed_for(seed, _ACQUISITION_STREAM, index))
        return block.add_(acquisition_log_noise(block, i0, acquisition.electronic_noise_var, generator))

    with torch.no_grad():
        mu = hu_to_mu(torch.from_numpy(hu), acquisition.mu_water)
        rec = proj.fbp_mapped(mu, measure, acquisition.kernel)
        return mu_to_hu(rec, acquisition.mu_water).numpy()


def predicted_noise_std(shape: tuple[int, int], spacing: tuple[float, float, float], acquisition: Acquisition,
                        radius_mm: float, dose: float = 1.0, n_angles: int | None = None) -> float:
    r"""Noise std (HU) at the centre of a centred water cylinder of ``radius_mm``, predicted from the fluence.

    Linear noise propagation, no random draw: a ray at detector offset :math:`t` crosses a chord
    :math:`p(t) = 2\mu_w\sqrt{R^2 - t^2}` and has log-count variance
    :math:`v(t) = 1/\bar I + \sigma_e^2/\bar I^2`, :math:`\bar I = k I_0 e^{-p}`. The ramp filter
    :math:`g` gives the filtered covariance :math:`C(b, b') = \sum_j g_{b-j}\,g_{b'-j}\,v_j`; the centre
    pixel's back projection weights :math:`w_a` (its row of the system matrix) give
    :math:`\sigma_\mu^2 = (\pi/A)^2 \sum_a w_a^\top C\,w_a` (the cylinder is rotation-invariant).

    Args:
        shape: ``(H, W)`` slice pixels. spacing: ``(s_z, s_y, s_x)`` mm.
        acquisition: declared scanner. radius_mm: water radius (air outside). dose: fraction ``k``.
    """
    proj = cached_projector(tuple(shape), tuple(float(s) for s in spacing[1:]), n_angles)
    k_i0 = dose * photons_per_ray(acquisition.fluence, proj.dt, float(spacing[0]), proj.n_angles)
    t = (np.arange(proj.n_bins) - (proj.n_bins - 1) / 2) * proj.dt
    p = 2 * acquisition.mu_water * np.sqrt(np.clip(radius_mm**2 - t**2, 0, None))
    counts = k_i0 * np.exp(-p)
    var = 1 / counts + acquisition.electronic_noise_var / counts**2
    response = ramp_filter(proj.dt, proj.n_bins, acquisition.kernel).double()
    n_fft = 2 * (response.shape[0] - 1)
    g = torch.fft.irfft(response, n=n_fft).numpy()  # circular kernel, g[m] for offsets m mod n_fft
    offsets = (np.arange(proj.n_bins)[:, None] - np.arange(proj.n_bins)[None, :]) % n_fft
    kernel = g[offsets]  # (T, T): filtered bin b from raw bin j
    delta = np.zeros((1,) + tuple(shape), np.float32)
    delta[0, shape[0] // 2, shape[1] // 2] = 1.0
    # The pixel's row of the system matrix (A, T): forward() scales it by the pixel's area per bin width.
    area_per_bin = proj.spacing[0] * proj.spacing[1] / proj.dt
    weights = proj.forward(torch.from_numpy(delta))[0].double().numpy() / area_per_bin
    filtered = weights @ kernel  # (A, T): w_a^T g, per raw bin j
    var_mu = (math.pi / proj.n_angles) ** 2 * float((filtered**2 * var[None, :]).sum())
    return 1000.0 / acquisition.mu_water * math.sqrt(var_mu)
