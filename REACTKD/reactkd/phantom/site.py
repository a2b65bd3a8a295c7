"""Acquisition sites of the phantom cohorts: the scanner, its grid and the contrast timing of each site.

A site is where a phantom cohort is "scanned": the CT is formed by :func:`reactkd.dose.scanner.acquire`
at the site's declared fluence and kernel on its pixel grid, in its contrast phase. The internal site
(``main``, PET/CT) trains the models; the ``external`` site is a second, CT-only hospital with another
scanner, another protocol and other patients, for the paper's external-validation row. The grade rules
(:mod:`reactkd.phantom.rules`) are the same at both sites: only image formation differs.

Fluences are photons per mm^2 at the isocentre over a half rotation (:mod:`reactkd.dose.physics`).
They are about a tenth of what the same noise would need at sub-millimetre pixels: the sites scan on
2-2.4 mm pixels to keep a cohort fast to generate (``benchmarks/bench_dose.py``), and noise std grows
as pixel^-1.5, so a routine 10-15 HU of liver noise needs fewer photons there. A cohort generated on
another grid (coarser, to be cheaper still) is scanned at the fluence that keeps the site's noise
(:meth:`Site.acquisition_at`): the noise of a cohort is the site's, whatever grid it is generated on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from reactkd.dose.acquisition import Acquisition

__all__ = ["FOV_MM", "ContrastPhase", "Site", "SITES", "site_named"]

FOV_MM = (384.0, 384.0, 320.0)
"""The phantom CT's field of view (x, y, z) in mm, the same at every site and grid."""


@dataclass(frozen=True)
class ContrastPhase:
    """Enhancement of the organs at the moment of the scan (HU); the liver's own value is drawn per patient
    and shifted by ``liver_offset_hu``. ``washout_scale`` multiplies each tumour's washout (liver minus
    tumour) of :data:`~reactkd.phantom.rules.RULES`, whose grade dependence is unchanged."""

    name: str
    liver_offset_hu: float = 0.0
    aorta_hu: float = 160.0
    kidney_hu: float = 150.0
    spleen_hu: float = 50.0
    washout_scale: float = 1.0


PORTAL_VENOUS = ContrastPhase("portal venous (~70 s)")
DELAYED = ContrastPhase("delayed (~180 s)", liver_offset_hu=-8.0, aorta_hu=120.0, kidney_hu=170.0,
                        spleen_hu=55.0, washout_scale=1.25)
"""Equilibrium phase: vessels and parenchyma darker, washout of HCC more conspicuous (LI-RADS v2018)."""


@dataclass(frozen=True)
class Site:
    """One acquisition site.

    Attributes:
        name: ``main`` or ``external``; also the manifest's ``cohort`` column (``phantom`` for main).
        size: default CT grid (x, y, z) over the fixed field of view :data:`FOV_MM`; the grid at which
            ``acquisition`` gives the site's noise.
        acquisition: the scanner (fluence at an exposure factor of 1, kernel, electronic noise).
        phase: contrast timing. with_pet: whether the site has PET (the external site is CT only).
        stream: extra keys of every random stream, so the site's patients differ from the main site's.
        exposure: range of the per-patient exposure factor (tube current modulation), times ``fluence``.
    """

    name: str
    size: tuple[int, int, int]
    acquisition: Acquisition
    phase: ContrastPhase
    with_pet: bool = field(kw_only=True)
    stream: tuple[int, ...] = ()
    exposure: tuple[float, float] = field(default=(0.8, 1.25))

    def spacing(self, size: tuple[int, int, int] | None = None) -> tuple[float, float, float]:
        """Voxel spacing (x, y, z) in mm of the grid ``size`` (default: the site's own)."""
        grid = self.size if size is None else size
        return (FOV_MM[0] / grid[0], FOV_MM[1] / grid[1], FOV_MM[2] / grid[2])

    def acquisition_at(self, spacing: tuple[float, float, float], exposure: float = 1.0) -> Acquisition:
        r"""The site's scanner for one scan on a grid of ``spacing`` (x, y, z) mm at exposure factor ``exposure``.

        The declared fluence :math:`\Phi` gives the site's noise on its own grid (pixel :math:`\Delta t`,
        slice :math:`\Delta z`). Image variance goes as :math:`\sigma^2 \propto 1/(\Phi\,\Delta t^3\,\Delta z)`
        (:func:`reactkd.dose.physics.photons_per_ray`; the kernel's cut-off is relative to the pixel's
        Nyquist frequency), so on another grid the fluence is

        .. math:: \Phi' = \text{exposure}\;\Phi\,(\Delta t/\Delta t')^3\,(\Delta z/\Delta z')

        and the cohort keeps the site's noise (the main site's 10-15 HU in the liver) on a coarse, cheap grid.
        """
        native = self.spacing()
        scale = (native[0] * native[1] / (spacing[0] * spacing[1])) ** 1.5 * native[2] / spacing[2]
        return replace(self.acquisition, fluence=self.acquisition.fluence * float(exposure) * scale)

    def describe(self) -> dict:
        return {"name": self.name, "default_size": list(self.size), "acquisition": self.acquisition.to_dict(),
                "phase": self.phase.__dict__, "with_pet": self.with_pet, "exposure_range": list(self.exposure)}


SITES = {
    "main": Site("main", (192, 192, 64), Acquisition(fluence=3.5e6, kernel="hann"), PORTAL_VENOUS, with_pet=True),
    "external": Site("external", (160, 160, 80), Acquisition(fluence=1.5e7, kernel="shepp-logan"), DELAYED,
                     with_pet=False, stream=(101,), exposure=(0.7, 1.4)),
}
"""``main``: 2 x 2 x 5 mm, Hann kernel (soft tissue), portal venous, PET/CT. ``external``: 2.4 x 2.4 x 4 mm,
Shepp-Logan kernel (sharper, noisier), delayed phase, CT only, other patients."""


def site_named(name: str) -> Site:
    """The site called ``name``; ValueError naming the choices otherwise."""
    if name not in SITES:
        raise ValueError(f"`site` must be one of {sorted(SITES)}, got {name!r}.")
    return SITES[name]
