r"""Low-dose CT from an acquired CT: re-project, add Zeng's noise in the sinogram, reconstruct.

Steps for each axial slice (array axis 0 is the slice axis):

1. HU -> attenuation :math:`\mu = \mu_w(1 + HU/1000)` (:func:`~reactkd.dose.physics.hu_to_mu`).
2. Parallel-beam line integrals :math:`p` (:class:`~reactkd.dose.projector.ParallelBeamProjector`).
3. Counts :math:`\bar I = I_0 e^{-p}` with :math:`I_0 = \Phi\,\Delta t\,\Delta z/A`; low-dose counts with
   Poisson + electronic noise by Zeng et al.'s model, safe log
   (:func:`~reactkd.dose.physics.zeng_log_noise`).
4. Filtered back projection (Hann-apodised ramp by default) and back to HU.

In the default ``NOISE_ONLY`` mode only the sinogram change :math:`\Delta p` is reconstructed and added
to the input, :math:`HU_{out} = HU_{in} + 1000\,\mathrm{FBP}(\Delta p)/\mu_w` (FBP is linear, so this is
the low-dose reconstruction minus the normal-dose one): the anatomy keeps its native sharpness and the
projector's discretisation error does not enter. ``FULL`` reconstructs :math:`p + \Delta p` directly.

Calibration of the defaults (:data:`~reactkd.dose.physics.FLUENCE`, Hann): the acquired scan is taken
to have about 15 HU of quantum noise at the centre of a 30 cm water cylinder reconstructed with 0.75 mm
pixels and 5 mm slices (typical of abdominal CT), 0.5 HU for a 22 cm cylinder on 4 mm pixels (noise
grows as :math:`e^{p/2}` with the path and as pixel size^-3/2, ``Testing/core/test_dose_noise.py``). A
dose fraction :math:`k` adds :math:`\sqrt{(1-k)/k}` times that: simulate before resampling to a coarse
grid, or lower ``fluence``, for visible degradation on a coarse grid.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import Enum

import numpy as np
import SimpleITK as sitk
import torch

from reactkd.dose.acquisition import Acquisition
from reactkd.dose.fbp_filter import FBPFilter
from reactkd.dose.levels import DoseLevel, resolve_dose
from reactkd.dose.physics import (
    ELECTRONIC_NOISE_VAR,
    FLUENCE,
    MU_WATER,
    hu_to_mu,
    mu_to_hu,
    photons_per_ray,
    seed_for,
    zeng_log_noise,
)
from reactkd.dose.projector import cached_projector

__all__ = ["ReconstructionMode", "LowDoseSimulator"]


class ReconstructionMode(str, Enum):
    """What is reconstructed: the added noise only (added to the input) or the whole low-dose sinogram."""

    NOISE_ONLY = "noise-only"
    FULL = "full"


@dataclass(frozen=True)
class LowDoseSimulator:
    r"""Simulate a CT at a lower dose from an acquired CT (Zeng et al. 2015), as numpy or SimpleITK.

    Args:
        mu_water: attenuation of water in 1/mm, > 0; default :data:`~reactkd.dose.physics.MU_WATER`
            (0.0192, ~70 keV).
        fluence: photons per mm^2 over a half rotation at the acquired dose, > 0; default
            :data:`~reactkd.dose.physics.FLUENCE` (1e8). Sets how noisy the acquired scan is assumed to be,
            hence how much noise a given fraction adds.
        electronic_noise_var: :math:`\sigma_e^2` >= 0 in counts^2; default 11.
        n_angles: views over 180 degrees, >= 2, or ``None`` for about :math:`\pi/2` x the slice side.
        window: FBP apodisation; default ``HANN`` (soft-tissue-like).
        mode: ``NOISE_ONLY`` (default) or ``FULL``; see the module docstring.

    Raises:
        ValueError: for a parameter out of range or an unknown ``window``/``mode`` name.

    Example:
        >>> import numpy as np
        >>> hu = np.zeros((2, 32, 32), np.float32)
        >>> out = LowDoseSimulator().simulate_array(hu, (5.0, 4.0, 4.0), "severe", seed=1)
        >>> out.shape, out.dtype
        ((2, 32, 32), dtype('float32'))
    """

    mu_water: float = MU_WATER
    fluence: float = FLUENCE
    electronic_noise_var: float = ELECTRONIC_NOISE_VAR
    n_angles: int | None = None
    window: FBPFilter | str = FBPFilter.HANN
    mode: ReconstructionMode | str = ReconstructionMode.NOISE_ONLY

    def __post_init__(self) -> None:
        for name in ("mu_water", "fluence"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"`{name}` must be a finite number > 0, got {value!r}.")
        var = self.electronic_noise_var
        if not (isinstance(var, (int, float)) and math.isfinite(var) and var >= 0):
            raise ValueError(f"`electronic_noise_var` must be a finite number >= 0, got {var!r}.")
        if self.n_angles is not None and (isinstance(self.n_angles, bool) or not isinstance(self.n_angles, int)
                                          or self.n_angles < 2):
            raise ValueError(f"`n_angles` must be an int >= 2 or None, got {self.n_angles!r}.")
        object.__setattr__(self, "window", _option(FBPFilter, self.window, "window"))
        object.__setattr__(self, "mode", _option(ReconstructionMode, self.mode, "mode"))

    @classmethod
    def for_acquisition(cls, acquisition: Acquisition, **params) -> LowDoseSimulator:
        """The simulator of a lower dose on the scanner that made the CT: its fluence, kernel, electronic
        noise and water attenuation (``params`` set the rest, e.g. ``mode``)."""
        return cls(mu_water=acquisition.mu_water, fluence=acquisition.fluence,
                   electronic_noise_var=acquisition.electronic_noise_var, window=acquisition.kernel, **params)

    def config(self) -> dict:
        """JSON-able parameters (enum values as strings), e.g. for cache keys and run records."""
        return {k: (v.value if isinstance(v, Enum) else v) for k, v in asdict(self).items()}

    def simulate_array(
        self,
        hu: np.ndarray,
        spacing: tuple[float, float, float],
        dose: DoseLevel | str | float,
        seed: int = 0,
    ) -> np.ndarray:
        """Simulate on an HU array.

        Args:
            hu: ``(Z, Y, X)`` CT numbers (axis 0 the slice axis, as ``SimpleITK.GetArrayFromImage``
                gives), finite, ``Y, X >= 2``.
            spacing: ``(s_z, s_y, s_x)`` in mm, array-axis order (the reverse of ``GetSpacing()``), > 0.
            dose: level name, :class:`DoseLevel` or fraction in ``(0, 1]`` (see :func:`resolve_dose`).
            seed: int >= 0; the same seed, input and parameters give the same output.

        Returns:
            ``(Z, Y, X)`` float32 HU. At fraction 1 (``native``) the input, unchanged, as float32.

        Raises:
            TypeError: if ``hu`` is not a numpy array or ``seed`` not an int.
            ValueError: for a wrong shape, non-finite values, bad spacing, seed or dose.
        """
        fraction = resolve_dose(dose)
        hu = _check_array(hu)
        spacing = _check_spacing(spacing)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise (TypeError if not isinstance(seed, (int, np.integer)) else ValueError)(
                f"`seed` must be an int >= 0, got {seed!r}."
            )
        out = hu.astype(np.float32, copy=True)
        if fraction == 1.0:
            return out
        proj = cached_projector(hu.shape[1:], spacing[1:], self.n_angles)
        i0 = photons_per_ray(self.fluence, proj.dt, spacing[0], proj.n_angles)
        full = self.mode is ReconstructionMode.FULL

        def add_noise(block: torch.Tensor, index: int) -> torch.Tensor:
            generator = torch.Generator(device=block.device).manual_seed(seed_for(seed, index))
            delta = zeng_log_noise(block, fraction, i0, self.electronic_noise_var, generator)
            return block.add_(delta) if full else delta

        with torch.no_grad():
            mu = hu_to_mu(torch.from_numpy(out), self.mu_water)
            rec = proj.fbp_mapped(mu, add_noise, self.window)
            if full:
                return mu_to_hu(rec, self.mu_water).numpy()
            return out + rec.mul_(1000.0 / self.mu_water).numpy()

    def __call__(self, image, dose: DoseLevel | str | float, seed: int = 0):
        """Simulate on a SimpleITK image; the result has exactly the input's geometry.

        Args:
            image: 3-D scalar ``SimpleITK.Image`` in HU, slices along its third index axis.
            dose: as in :meth:`simulate_array`. seed: as in :meth:`simulate_array`.

        Returns:
            ``SimpleITK.Image`` of pixel type float32 (HU) with the input's origin, spacing and direction.

        Raises:
            TypeError: if ``image`` is not a ``SimpleITK.Image``.
            ValueError: if it is not 3-D or has more than one component per voxel; see :meth:`simulate_array`.
        """
        if not isinstance(image, sitk.Image):
            raise TypeError(f"`image` must be a SimpleITK.Image, got {type(image).__name__}.")
        if image.GetDimension() != 3:
            raise ValueError(f"`image` must be a 3-D CT volume, got a {image.GetDimension()}-D image "
                             f"of size {image.GetSize()}.")
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise ValueError(f"`image` must have one component per voxel, got {image.GetNumberOfComponentsPerPixel()}.")
        array = sitk.GetArrayFromImage(image)
        result = self.simulate_array(array, tuple(reversed(image.GetSpacing())), dose, seed)
        out = sitk.GetImageFromArray(result)
        out.CopyInformation(image)
        return out


def _option(enum: type[Enum], value, name: str):
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise ValueError(f"`{name}` must be one of {allowed}, got {value!r}.") from None


def _check_array(hu) -> np.ndarray:
    if not isinstance(hu, np.ndarray):
        raise TypeError(f"`hu` must be a numpy array, got {type(hu).__name__}.")
    if hu.ndim != 3 or hu.shape[1] < 2 or hu.shape[2] < 2 or hu.shape[0] < 1:
        raise ValueError(f"`hu` must be a 3-D array (Z, Y, X) with Z >= 1 and Y, X >= 2, got shape {hu.shape}.")
    if not (np.issubdtype(hu.dtype, np.floating) or np.issubdtype(hu.dtype, np.integer)):
        raise TypeError(f"`hu` must hold real numbers, got dtype {hu.dtype}.")
    if np.issubdtype(hu.dtype, np.floating) and not np.isfinite(hu).all():
        raise ValueError(f"`hu` must be finite, got {int((~np.isfinite(hu)).sum())} NaN/inf voxel(s).")
    return hu


def _check_spacing(spacing) -> tuple[float, float, float]:
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise ValueError(f"`spacing` must be three numbers (s_z, s_y, s_x) in mm, got {spacing!r}.") from None
    if len(values) != 3 or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"`spacing` must be three finite numbers > 0 (s_z, s_y, s_x) in mm, got {spacing!r}.")
    return values
