"""Write the phantom cohort's files into a fresh folder: cases, ``manifest.csv``, ``cohort.json``, ``README.md``.

Called by :func:`reactkd.phantom.cohort.generate_cohort`, which owns the folder's atomic creation.
Random streams are keyed by (seed, patient index), so patient ``i`` does not depend on ``n_patients``
beyond its grade allocation.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from reactkd import __version__
from reactkd.cohort.manifest import MANIFEST_COLUMNS
from reactkd.dose.acquisition import write_acquisition
from reactkd.phantom.anatomy import FOV_MM, Anatomy, Grid, draw_anatomy, exposure_factor, place_lesions, render_case
from reactkd.phantom.rules import RULES, allocate_grades, draw_patient, rules_markdown
from reactkd.phantom.site import Site, site_named

__all__ = ["CASE_FILES", "MANIFEST_COLUMNS", "write_cohort"]

CASE_FILES = {"ct": "ct.nii.gz", "pet_fdg": "pet_fdg.nii.gz", "pet_acetate": "pet_acetate.nii.gz",
              "liver_mask": "liver.nii.gz", "tumor_mask": "tumor.nii.gz"}
PET_FILES = ("pet_fdg", "pet_acetate")
ACQUISITION_FILE = "ct.json"
"""The CT's acquisition sidecar (:mod:`reactkd.dose.acquisition`): fluence, kernel, electronic noise."""
_IMAGE_KEYS = {"ct": "ct", "pet_fdg": "pet_fdg", "pet_acetate": "pet_acetate", "liver_mask": "liver",
               "tumor_mask": "tumor"}


def _grids(size: tuple[int, int, int], anat: Anatomy, rng: np.random.Generator) -> tuple[Grid, Grid]:
    """CT grid over the fixed field of view, shifted per acquisition (patient pose), and a PET grid with
    twice the spacing and an origin that does not line up with the CT's, as on a real PET/CT."""
    sp = tuple(FOV_MM[i] / size[i] for i in range(3))
    shift = rng.uniform(-8, 8, 3)
    origin = (-FOV_MM[0] / 2 + sp[0] / 2 + shift[0], -FOV_MM[1] / 2 + sp[1] / 2 + shift[1], anat.z0 + shift[2])
    ct = Grid(size, sp, tuple(float(o) for o in origin))  # type: ignore[arg-type]
    pet_sp = tuple(2 * s for s in sp)
    pet_origin = tuple(float(origin[i] + sp[i] / 2 + rng.uniform(-0.3, 0.3) * sp[i]) for i in range(3))
    pet = Grid(tuple(math.ceil(n / 2) for n in size), pet_sp, pet_origin)  # type: ignore[arg-type]
    return ct, pet


def write_cohort(folder: Path, params: dict[str, Any], generator: str, version: str) -> None:
    """Generate every case into the new folder ``folder`` (which must not exist) and describe it.

    Args:
        folder: folder to create.
        params: ``{"n_patients": int, "seed": int, "size": [x, y, z], "site": name}``, already validated.
        generator, version: recorded in ``cohort.json`` to recognise the cohort later.
    """
    n, seed, size = params["n_patients"], params["seed"], tuple(params["size"])
    site = site_named(params["site"])
    keys = [seed, *site.stream]
    files = {c: f for c, f in CASE_FILES.items() if site.with_pet or c not in PET_FILES}
    folder.mkdir()
    crng = np.random.default_rng([*keys, 0])
    grades = allocate_grades(n, crng)
    repeats = set(crng.choice(n, size=int(round(RULES["repeat_fraction"] * n)), replace=False).tolist())
    width = max(3, len(str(n)))
    rows: list[dict[str, Any]] = []
    truth: list[dict[str, Any]] = []
    for i, grade in enumerate(grades):
        prng = np.random.default_rng([*keys, 1, i])
        spec = draw_patient(grade, prng)
        anat = draw_anatomy(prng)
        lesions = place_lesions(spec, anat, prng)
        pid = f"P{i + 1:0{width}d}"
        for j in range(2 if i in repeats else 1):
            case_id = f"{pid}_{'ab'[j]}"
            ct_grid, pet_grid = _grids(size, anat, np.random.default_rng([*keys, 2, i, j]))
            images = render_case(anat, lesions, ct_grid, pet_grid if site.with_pet else None,
                                 np.random.default_rng([*keys, 3, i, j]), site)
            case_dir = folder / "cases" / case_id
            case_dir.mkdir(parents=True)
            row: dict[str, Any] = {"patient_id": pid, "case_id": case_id, "grade": grade}
            for col, name in files.items():
                sitk.WriteImage(images[_IMAGE_KEYS[col]], str(case_dir / name), useCompression=True)
                row[col] = f"cases/{case_id}/{name}"
            exposure = exposure_factor(anat, site)
            acquisition = site.acquisition_at(ct_grid.spacing, exposure)
            fluence = acquisition.fluence
            write_acquisition(case_dir / CASE_FILES["ct"], acquisition,
                              exposure=round(exposure, 4), pixel_mm=list(ct_grid.spacing[:2]),
                              slice_mm=ct_grid.spacing[2])
            row.update(age=spec.age, sex=spec.sex, hepatitis=spec.hepatitis, afp=spec.afp,
                       cohort="phantom" if site.name == "main" else f"phantom-{site.name}")
            rows.append(row)
            labels, k = ndimage.label(sitk.GetArrayViewFromImage(images["tumor"]))
            voxel_ml = float(np.prod(ct_grid.spacing)) / 1000.0
            truth.append({
                "case_id": case_id, "grade": grade, "latent": round(spec.latent, 4), "n_tumours": int(k),
                "planned_tumours": spec.n_tumours,
                "tumour_ml": [round(float(c) * voxel_ml, 3) for c in np.bincount(labels.ravel())[1:]],
                "fdg_tlr": round(spec.fdg_tlr, 4), "acetate_tlr": round(spec.acetate_tlr, 4),
                "washout_hu": round(spec.washout_hu, 2), "texture_hu": round(spec.texture_hu, 2),
                "necrosis": round(spec.necrosis, 3), "dispersed_satellites": int(sum(spec.dispersed)),
                "exposure": round(exposure, 4), "fluence": fluence,
            })
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    counts = {str(g): grades.count(g) for g in (1, 2, 3)}
    sp = [FOV_MM[i] / size[i] for i in range(3)]
    meta = {
        "generator": generator, "generator_version": version, "reactkd_version": __version__,
        "parameters": params, "n_cases": len(rows), "patient_grade_counts": counts,
        "ct_spacing_mm": sp, "pet_spacing_mm": [2 * s for s in sp] if site.with_pet else None,
        "site": site.describe(), "rules": RULES, "cases": truth,
    }
    (folder / "README.md").write_text(_readme(params, len(rows), counts, sp, site), encoding="utf-8")
    # Written last: its presence with matching parameters is what marks a cohort as ours.
    (folder / "cohort.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def _readme(params: dict[str, Any], n_cases: int, counts: dict[str, int], sp: list[float], site: Site) -> str:
    acq, phase = site.acquisition, site.phase
    lo, hi = site.exposure
    native = site.spacing()
    scale = site.acquisition_at((sp[0], sp[1], sp[2])).fluence / acq.fluence
    fov = f"{FOV_MM[0]:g} x {FOV_MM[1]:g} x {FOV_MM[2]:g} mm"
    pet_lines = (f"""- `pet_fdg.nii.gz`, `pet_acetate.nii.gz`: float32 SUV on a coarser, shifted grid
  ({2 * sp[0]:g} x {2 * sp[1]:g} x {2 * sp[2]:g} mm): resample in world space to combine with the CT.
""" if site.with_pet else "- No PET: this site is CT only (the `pet_*` columns are empty).\n")
    return f"""\
# REACTKD phantom cohort ({site.name} site)

Synthetic hepatocellular carcinoma patients written by `reactkd cohort` (reactkd {__version__}):
{params['n_patients']} patients, {n_cases} cases, seed {params['seed']}, patients by grade 1/2/3:
{counts['1']}/{counts['2']}/{counts['3']}. Not real data: for demos, tests and benchmarks only.

## Acquisition

Each CT is the noise-free phantom scanned by the project's scanner model (`reactkd.dose.scanner.acquire`):
parallel-beam projection of every axial slice on the pixel grid below, detector counts with Poisson
quantum noise and Gaussian electronic noise (variance {acq.electronic_noise_var:g} counts^2 per reading), log,
filtered back projection with the **{acq.kernel}** kernel. Declared fluence {acq.fluence:.3g} photons/mm^2
(isocentre, half rotation) on the site's own {native[0]:g} x {native[1]:g} x {native[2]:g} mm grid, scaled to this grid
so that the noise is the site's (x {scale:.3g}: noise variance goes as 1/(fluence x pixel^3 x slice)), times a
per-patient exposure factor in [{lo:g}, {hi:g}] (tube current modulation); each case's own fluence is in
`cases/<case_id>/ct.json` and `cohort.json`. Pixels
{sp[0]:g} x {sp[1]:g} mm, slices {sp[2]:g} mm (no overlap), field of view {fov}.
Contrast: {phase.name} (aorta {phase.aorta_hu:g} HU, kidneys {phase.kidney_hu:g}, spleen {phase.spleen_hu:g},
liver shifted by {phase.liver_offset_hu:g} HU, tumour washout x {phase.washout_scale:g}).
The image noise is therefore the scanner's (it grows with the patient's width and falls with the
exposure), and a reduced dose (`reactkd simulate-dose`, the dose teacher, `reactkd evaluate --dose`) is the
same scanner at fewer photons, simulated on this grid before any resampling.

## Files

- `manifest.csv`: one row per case ({', '.join(MANIFEST_COLUMNS)}); paths are relative to this folder.
- `cases/<case_id>/ct.nii.gz`: CT, int16 HU, LPS, non-zero origin,
  {params['size'][0]} x {params['size'][1]} x {params['size'][2]} voxels of {sp[0]:g} x {sp[1]:g} x {sp[2]:g} mm;
  `ct.json`: its acquisition (fluence, kernel, electronic noise, mu_water).
{pet_lines}- `liver.nii.gz` (liver including its tumours), `tumor.nii.gz`: uint8 0/1 on the CT grid. Each connected
  tumour component is one node of the region graph; some cases have none (liver-only graph).
- `cohort.json`: parameters, site, generator version, rules and per-case truth (latent score, tumour volumes).

The liver lies on the patient's right (negative x in LPS). Patients with two cases (`_a`, `_b`) were
scanned twice: same anatomy and grade, new pose and noise; keep them in the same fold.

{rules_markdown()}"""
