"""Acquisition sites of the phantom cohorts: the scanner, its grid and the contrast timing of each site.

A site is where a phantom cohort is "scanned": the CT is formed by :func:`reactkd.dose.scanner.acquire`
at the site's declared fluence and kernel on its pixel grid, in its contrast phase. The internal site
(``main``, PET/CT) trains the models; the ``external`` site is a second, CT-only hospital with another
scanner, another protocol and other patients, for the paper's external-validation row. The grade rules
(:mod:`reactkd.phantom.rules`) are the same at both sites: only image formation differs.

Fluences are photons per mm^2 at the isocentre over a half rotation (:mod:`reactkd.dose.physics`).
They are about a tenth of what the same noise would need at sub-millimetre pixels: the sites scan on
2-2.4 mm pixels to keep a cohort fast to generate (``benchmarks/bench_dose.py``), and noise std grows
as pixel^-1.5, so a routine 10-15 HU of liver noise needs fewer photons there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reactkd.dose.acquisition import Acquisition

__all__ = ["ContrastPhase", "Site", "SITES", "site_named"]


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
        size: default CT grid (x, y, z) over the fixed field of view of
            :data:`~reactkd.phantom.anatomy.FOV_MM`.
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

    def describe(self) -> dict:
        return {"name": self.name, "default_size": list(self.size), "acquisition": self.acquisition.to_dict(),
                "phase": self.phase.__dict__, "with_pet": self.with_pet, "exposure_range": list(self.exposure)}


SITES = {
    "main": Site("main", (192, 192, 64), Acquisition(fluence=5.0e6, kernel="hann"), PORTAL_VENOUS, with_pet=True),
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
