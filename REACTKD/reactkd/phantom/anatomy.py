"""Anatomy and image formation of the embedded phantom cohort: world-space shapes to CT, PET and masks.

Anatomy is defined in continuous LPS millimetres (ellipsoids deformed by sums of plane waves), never on
a voxel grid, so a repeat acquisition of the same patient is the same body seen on a shifted grid.
Grade-linked traits come from :mod:`reactkd.phantom.rules`.

Values (portal venous CT): air -1000 HU, fat -100 (subcutaneous and mesenteric), muscle 45,
bowel/soft tissue ~35, liver 55-65, spleen ~50, kidney cortex ~150, aorta ~160, vertebral body 450 with a
700 HU cortex; another contrast phase shifts the enhancing organs (:mod:`reactkd.phantom.site`).
The CT is this noise-free object scanned by :func:`reactkd.dose.scanner.acquire` (projection, Poisson
and electronic noise at the site's declared fluence, filtered back projection), so its noise is the
scanner's: about 10-15 HU in the liver on the main site's 2 x 2 x 5 mm grid. PET: normal-liver SUV
1.7-2.5 (FDG) and 1.3-1.9 (acetate), blurred to 7 mm FWHM, sampled on a grid with twice the CT spacing
and a shifted origin, multiplicative noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from reactkd.dose.scanner import acquire
from reactkd.phantom.rules import RULES, LesionSpec, PatientSpec
from reactkd.phantom.site import FOV_MM, Site

__all__ = ["FOV_MM", "Anatomy", "Grid", "draw_anatomy", "exposure_factor", "place_lesions", "render_case"]

_PET_FWHM_MM = 7.0
_PET_NOISE = 0.12  # relative SD per PET voxel


@dataclass(frozen=True)
class Grid:
    """An axis-aligned LPS image grid: ``size`` and ``spacing`` as (x, y, z), ``origin`` = centre of voxel 0."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World coordinates of voxel centres, broadcastable to a ``(z, y, x)`` array."""
        x, y, z = (self.origin[i] + self.spacing[i] * np.arange(self.size[i], dtype=np.float32) for i in range(3))
        return x[None, None, :], y[None, :, None], z[:, None, None]

    def box(self, lo: np.ndarray, hi: np.ndarray) -> tuple[slice, slice, slice]:
        """``(z, y, x)`` slices of the voxels whose centres may lie in the world box ``[lo, hi]``."""
        out = []
        for i in (2, 1, 0):
            a = math.floor((lo[i] - self.origin[i]) / self.spacing[i])
            b = math.ceil((hi[i] - self.origin[i]) / self.spacing[i]) + 1
            out.append(slice(min(max(a, 0), self.size[i]), min(max(b, 0), self.size[i])))
        return tuple(out)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Waves:
    """Sum of plane waves: a smooth random field with unit SD, cheap and defined everywhere in world space."""

    k: np.ndarray  # (n, 3) wave vectors in rad/mm
    phase: np.ndarray  # (n,)

    @classmethod
    def draw(cls, rng: np.random.Generator, wavelength_mm: tuple[float, float], n: int = 6) -> _Waves:
        d = rng.normal(size=(n, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        k = d * (2 * np.pi / rng.uniform(*wavelength_mm, size=(n, 1)))
        return cls(k.astype(np.float32), rng.uniform(0, 2 * np.pi, n).astype(np.float32))

    def __call__(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        amp = np.float32(math.sqrt(2.0 / len(self.phase)))
        return sum(amp * np.cos(kk[0] * x + kk[1] * y + kk[2] * z + p) for kk, p in zip(self.k, self.phase))


@dataclass(frozen=True)
class _Blob:
    """Ellipsoid ``center``/``radii`` (mm) whose boundary is pushed out by ``bump * waves``."""

    center: np.ndarray
    radii: np.ndarray
    waves: _Waves
    bump: float

    def level(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """< 1 inside; the normalised radius minus the boundary deformation."""
        c, r = self.center, self.radii
        q = ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2
        return np.sqrt(q) - self.bump * self.waves(x, y, z)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        pad = self.radii * (1 + 3 * self.bump)
        return self.center - pad, self.center + pad


@dataclass(frozen=True)
class Anatomy:
    """One patient's body in world mm (LPS: +x patient's left, +y posterior, +z superior)."""

    body_axes: tuple[float, float]
    body_cy: float
    fat_mm: float
    z0: float
    liver: _Blob
    spleen: _Blob
    kidneys: tuple[_Blob, _Blob]
    spine_y: float
    liver_hu: float
    exposure: float
    fdg_liver: float
    acetate_liver: float
    soft_waves: _Waves


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    """Draw a body, spine, aorta, liver (patient's right, so negative x), spleen and kidneys."""
    ax, ay = float(rng.uniform(140, 172)), float(rng.uniform(100, 125))
    cy = float(rng.uniform(-10, 10))
    z0 = float(rng.uniform(-420, -300))  # scanner z of the first CT slice: origins are rarely 0
    spine_y = cy + ay - 40
    zl = z0 + 0.6 * FOV_MM[2] + float(rng.uniform(-15, 15))
    liver = _Blob(np.array([-0.42 * ax, cy - 15, zl]), rng.uniform([68, 55, 70], [80, 66, 88]),
                  _Waves.draw(rng, (60, 140)), 0.08)
    spleen = _Blob(np.array([0.55 * ax, cy + 0.3 * ay, zl + 10]), rng.uniform([34, 26, 45], [44, 32, 58]),
                   _Waves.draw(rng, (50, 100)), 0.06)
    zk = z0 + 0.35 * FOV_MM[2]
    kidneys = tuple(_Blob(np.array([s * 62, spine_y - 5, zk]), np.array([26.0, 22.0, 50.0]),
                          _Waves.draw(rng, (40, 80)), 0.04) for s in (-1, 1))
    return Anatomy(
        body_axes=(ax, ay), body_cy=cy, fat_mm=float(rng.uniform(8, 25)), z0=z0, liver=liver, spleen=spleen,
        kidneys=kidneys, spine_y=spine_y, liver_hu=float(rng.uniform(55, 65)),  # type: ignore[arg-type]
        exposure=float(rng.uniform(0, 1)), fdg_liver=float(rng.uniform(1.7, 2.5)),
        acetate_liver=float(rng.uniform(1.3, 1.9)), soft_waves=_Waves.draw(rng, (15, 40), n=8),
    )


def _in_liver(anat: Anatomy, p: np.ndarray, margin_mm: float) -> bool:
    margin = margin_mm / float(anat.liver.radii.min())
    return bool(anat.liver.level(*(np.float32(v) for v in p)) < 1 - margin)


def place_lesions(spec: PatientSpec, anat: Anatomy, rng: np.random.Generator) -> list[LesionSpec]:
    """Seat ``spec``'s tumours inside the liver, far enough apart to stay separate connected components.

    A satellite that cannot be seated (crowded liver) is dropped, so the written masks, not ``spec``,
    are the truth about how many tumours a case has.
    """
    radii = [spec.main_radius_mm, *spec.satellite_radii_mm][: spec.n_tumours]
    lo, hi = anat.liver.center - anat.liver.radii, anat.liver.center + anat.liver.radii
    out: list[LesionSpec] = []
    for i, r in enumerate(radii):
        near = bool(out) and i > 0 and not spec.dispersed[i - 1]
        # A big tumour may bulge to the liver surface (the mask clips it there), so its margin is capped.
        margin = min(1.3 * r + 4, 0.5 * float(anat.liver.radii.min()))
        for attempt in range(300):
            if near and attempt < 150:
                d = rng.normal(size=3)
                p = np.array(out[0].center) + d / np.linalg.norm(d) * (radii[0] + r + rng.uniform(8, 25))
            else:
                p = rng.uniform(lo, hi)
            # 1.3 r covers anisotropy and boundary bumps; 12 mm keeps tumours apart even under
            # 26-connectivity on coarse grids (the 3-D voxel diagonal is 7.5 mm at 4 x 4 x 5 mm).
            if _in_liver(anat, p, margin) and all(
                np.linalg.norm(p - np.array(o.center)) > 1.3 * (r + max(o.radii)) + 12 for o in out
            ):
                break
        else:
            continue
        jitter = 0.0 if i == 0 else RULES["satellite_tlr_sd"]
        shape = np.exp(rng.normal(0, 0.12, 3))
        out.append(LesionSpec(
            center=tuple(float(v) for v in p),  # type: ignore[arg-type]
            radii=tuple(float(v) for v in r * shape / np.prod(shape) ** (1 / 3)),  # type: ignore[arg-type]
            fdg_tlr=spec.fdg_tlr * math.exp(rng.normal(0, jitter)),
            acetate_tlr=spec.acetate_tlr * math.exp(rng.normal(0, jitter)),
            washout_hu=spec.washout_hu + float(rng.normal(0, 2)),
            texture_hu=spec.texture_hu,
            necrosis=spec.necrosis if i == 0 else 0.0,
            wave_seed=int(rng.integers(2**31)),
        ))
    return out


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest piece, so one placed tumour is one region-graph node whatever the grid."""
    labels, k = ndimage.label(mask)  # face-connected, hence connected under any convention
    if k <= 1:
        return mask
    return labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))


def _image(arr: np.ndarray, grid: Grid) -> sitk.Image:
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(grid.spacing)
    img.SetOrigin(grid.origin)
    return img


def exposure_factor(anat: Anatomy, site: Site) -> float:
    """The patient's tube-current factor at ``site``: ``anat.exposure`` (uniform in [0, 1)) mapped onto the
    site's range, so the same body gets the site's own automatic exposure control."""
    lo, hi = site.exposure
    return lo + (hi - lo) * anat.exposure


def render_case(anat: Anatomy, lesions: list[LesionSpec], ct_grid: Grid, pet_grid: Grid | None,
                rng: np.random.Generator, site: Site) -> dict[str, sitk.Image]:
    """Render one acquisition at ``site``: ``ct`` (int16 HU, scanned by the site's scanner),
    ``pet_fdg``/``pet_acetate`` (float32 SUV on ``pet_grid``; absent when ``pet_grid`` is None),
    ``liver``/``tumor`` (uint8 0/1; the liver mask includes its tumours, as in LiTS)."""
    phase = site.phase
    x, y, z = ct_grid.axes()
    shape = (ct_grid.size[2], ct_grid.size[1], ct_grid.size[0])
    ax, ay = anat.body_axes
    ell = ((x / ax) ** 2 + ((y - anat.body_cy) / ay) ** 2) * np.ones_like(z)
    inner = ((x / (ax - anat.fat_mm)) ** 2 + ((y - anat.body_cy) / (ay - anat.fat_mm)) ** 2) * np.ones_like(z)
    body, inner = ell < 1, inner < 1
    ct = np.full(shape, -1000.0, np.float32)
    fdg, ace = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    waves = anat.soft_waves(x, y, z)
    soft = 35 + 8 * waves

    def paint(mask: np.ndarray, hu: float | np.ndarray, f: float | np.ndarray, a: float | np.ndarray,
              sl: tuple[slice, ...] = (slice(None),) * 3) -> None:
        for arr, v in ((ct, hu), (fdg, f), (ace, a)):
            sub = arr[sl]
            sub[mask] = v[mask] if isinstance(v, np.ndarray) else v

    paint(body, -100.0, 0.4, 0.3)
    paint(inner, 45.0, 0.8, 0.7)  # abdominal wall muscle; the cavity below leaves a ~10 mm rim
    cavity = ((x / (ax - anat.fat_mm - 10)) ** 2 + ((y - anat.body_cy) / (ay - anat.fat_mm - 10)) ** 2) < 1
    paint(cavity & (waves < 1.1), np.broadcast_to(soft, shape), 0.9, 0.8)
    paint(cavity & (waves >= 1.1), -90.0, 0.4, 0.3)  # mesenteric fat between bowel loops
    r_spine = np.sqrt(x**2 + (y - anat.spine_y) ** 2) * np.ones_like(z)
    r_canal = np.sqrt(x**2 + (y - anat.spine_y - 26) ** 2) * np.ones_like(z)
    aorta = (np.sqrt((x - 18) ** 2 + (y - anat.spine_y + 32) ** 2) < 11) * np.ones_like(z, bool)
    paint(r_spine < 17, 700.0, 1.2, 1.0)
    paint(r_spine < 14, 450.0, 1.2, 1.0)
    paint((r_canal < 13) & ~(r_spine < 17), 650.0, 1.2, 1.0)
    paint(r_canal < 8, 20.0, 0.6, 0.5)
    paint(aorta, phase.aorta_hu, 1.7, 0.7)
    free = inner & (r_spine > 19) & (r_canal > 15) & ~aorta  # organs never overwrite bone or the aorta
    liver = np.zeros(shape, np.uint8)
    liver_hu = anat.liver_hu + phase.liver_offset_hu
    organs = [(anat.kidneys[0], phase.kidney_hu, 3.0, 2.0), (anat.kidneys[1], phase.kidney_hu, 3.0, 2.0),
              (anat.spleen, phase.spleen_hu, 1.8, 1.5), (anat.liver, liver_hu, anat.fdg_liver, anat.acetate_liver)]
    for blob, hu, f, a in organs:
        sl = ct_grid.box(*blob.bounds())
        m = _largest_component((blob.level(x[..., sl[2]], y[:, sl[1]], z[sl[0]]) < 1) & free[sl])
        paint(m, hu, f, a, sl)
        if blob is anat.liver:
            liver[sl][m] = 1
    tumor = np.zeros(shape, np.uint8)
    for les in lesions:
        wrng = np.random.default_rng(les.wave_seed)
        blob = _Blob(np.array(les.center), np.array(les.radii), _Waves.draw(wrng, (10, 30)), 0.1)
        tex = _Waves.draw(wrng, (8, 20), n=8)
        sl = ct_grid.box(*blob.bounds())
        xs, ys, zs = x[..., sl[2]], y[:, sl[1]], z[sl[0]]
        lev = blob.level(xs, ys, zs)
        m = _largest_component((lev < 1) & (liver[sl] > 0))
        hu = liver_hu - phase.washout_scale * les.washout_hu + les.texture_hu * tex(xs, ys, zs) * np.ones_like(lev)
        paint(m, hu, anat.fdg_liver * les.fdg_tlr, anat.acetate_liver * les.acetate_tlr, sl)
        if les.necrosis > 0:
            paint(m & (lev < les.necrosis), 20.0, 0.3 * anat.fdg_liver, 0.3 * anat.acetate_liver, sl)
        tumor[sl][m] = 1
    acquisition = site.acquisition_at(ct_grid.spacing, exposure_factor(anat, site))
    spacing_zyx = tuple(float(s) for s in ct_grid.spacing[::-1])
    ct = acquire(ct, spacing_zyx, acquisition, seed=int(rng.integers(2**62)))  # type: ignore[arg-type]
    out = {"ct": _image(np.clip(np.rint(ct), -1024, 3071).astype(np.int16), ct_grid),
           "liver": _image(liver, ct_grid), "tumor": _image(tumor, ct_grid)}
    if pet_grid is None:
        return out
    sigma = [_PET_FWHM_MM / 2.3548 / s for s in ct_grid.spacing[::-1]]
    ref = _image(np.zeros((pet_grid.size[2], pet_grid.size[1], pet_grid.size[0]), np.float32), pet_grid)
    for key, suv in (("pet_fdg", fdg), ("pet_acetate", ace)):
        smooth = _image(ndimage.gaussian_filter(suv, sigma, mode="constant"), ct_grid)
        arr = sitk.GetArrayFromImage(sitk.Resample(smooth, ref, sitk.Transform(), sitk.sitkLinear, 0.0))
        arr = arr * math.exp(rng.normal(0, 0.05))  # uptake time and dose calibration vary by scan
        arr = np.clip(arr * (1 + _PET_NOISE * rng.standard_normal(arr.shape)), 0, None)
        # Quantise to 1/1024 SUV (far below the noise; scanners store int16 + slope) so files compress.
        arr = (np.rint(arr * 1024) / 1024).astype(np.float32)
        out[key] = _image(arr, pet_grid)
    return out
