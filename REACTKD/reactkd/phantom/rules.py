"""Grade rules of the embedded phantom cohort: from an Edmondson–Steiner grade to a patient's hidden traits.

Every number the generator uses to tie appearance to grade lives in :data:`RULES`, so that the module
docstring of :mod:`reactkd.phantom.cohort`, the cohort's ``cohort.json`` and its ``README.md`` all state
the same rules. Anatomy (body, spine, organs, noise) is drawn in :mod:`reactkd.phantom.anatomy`.

References:
    1. Edmondson HA, Steiner PE. Primary carcinoma of the liver: a study of 100 cases among 48,900
       necropsies. Cancer 1954;7(3):462-503.
    2. Torizuka T et al. In vivo assessment of glucose metabolism in hepatocellular carcinoma with
       FDG-PET. J Nucl Med 1995;36(10):1811-1817 (FDG avidity rises as differentiation falls).
    3. Ho CL, Yu SCH, Yeung DWC. 11C-acetate PET imaging in hepatocellular carcinoma and other liver
       masses. J Nucl Med 2003;44(2):213-221 (well-differentiated HCC is acetate-avid and often
       FDG-negative; poorly differentiated HCC the reverse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["RULES", "LesionSpec", "PatientSpec", "allocate_grades", "draw_patient", "rules_markdown"]

RULES: dict[str, Any] = {
    # Cohort mix: grade 2 most common, as in surgical HCC series; every grade well represented.
    "grade_proportions": {"1": 0.25, "2": 0.45, "3": 0.30},
    # Latent aggressiveness a = (grade - 2) + N(0, sd): all grade-linked traits below read `a`,
    # so neighbouring grades overlap and no single trait decides the grade.
    "latent_sd": 0.45,
    # Multiplicity: P(no segmented tumour) fixed; otherwise 1 + Poisson(lambda0 * exp(slope * a)), capped.
    "p_no_tumour": 0.04,
    "satellites_lambda0": 0.55,
    "satellites_slope": 1.0,
    "max_tumours": 6,
    # Dispersion: probability that a satellite is seeded anywhere in the liver (intrahepatic spread)
    # instead of 8-25 mm from the main tumour (daughter nodule): sigmoid(slope * a + offset).
    "dispersion_slope": 1.5,
    "dispersion_offset": -0.5,
    # Size: main tumour radius (mm) = r0 * exp(slope * a + N(0, sd)), clipped; satellites uniform.
    "main_radius_mm": 13.0,
    "main_radius_slope": 0.15,
    "main_radius_sd": 0.30,
    "main_radius_clip_mm": [5.0, 32.0],
    "satellite_radius_mm": [4.5, 8.0],
    # CT (portal venous): washout contrast (liver minus tumour, HU) = c0 + slope * a + N(0, sd): weak.
    "washout_hu": 10.0,
    "washout_slope": 4.0,
    "washout_sd": 6.0,
    # CT texture: smooth internal heterogeneity SD (HU) = t0 * exp(slope * a + N(0, sd)).
    "texture_hu": 6.0,
    "texture_slope": 0.35,
    "texture_sd": 0.35,
    # Necrosis (tumours of radius >= min): central core, CT ~20 HU and PET-cold, P = sigmoid(slope*a + off).
    "necrosis_min_radius_mm": 10.0,
    "necrosis_slope": 1.2,
    "necrosis_offset": -0.8,
    # PET: tumour-to-liver ratio (TLR) = exp(t0 + slope * a + N(0, sd)); FDG rises, acetate falls.
    "fdg_tlr_log0": 0.30,
    "fdg_tlr_slope": 0.5,
    "acetate_tlr_log0": 0.30,
    "acetate_tlr_slope": -0.5,
    "tlr_sd": 0.15,
    "satellite_tlr_sd": 0.10,
    # Clinical: log10 AFP (ng/mL) = 1.0 + 0.35 * a + N(0, 0.8); AFP is a weak, noisy grade marker.
    "afp_log10": 1.0,
    "afp_slope": 0.35,
    "afp_sd": 0.8,
    # Repeat acquisitions: this fraction of patients gets a second case (same anatomy, new noise/pose).
    "repeat_fraction": 0.15,
}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class LesionSpec:
    """One tumour in world millimetres (LPS).

    Attributes:
        center: ``(x, y, z)`` centre in mm.
        radii: ``(rx, ry, rz)`` ellipsoid semi-axes in mm before boundary deformation.
        fdg_tlr: FDG tumour-to-liver SUV ratio.
        acetate_tlr: 11C-acetate tumour-to-liver SUV ratio.
        washout_hu: liver HU minus tumour HU (portal venous phase).
        texture_hu: SD of the smooth internal texture in HU.
        necrosis: necrotic core radius as a fraction of the tumour radius (0 = none).
        wave_seed: seed of the tumour's boundary and texture waves.
    """

    center: tuple[float, float, float]
    radii: tuple[float, float, float]
    fdg_tlr: float
    acetate_tlr: float
    washout_hu: float
    texture_hu: float
    necrosis: float
    wave_seed: int


@dataclass
class PatientSpec:
    """Hidden traits of one phantom patient; lesion centres are filled in once the liver exists.

    Attributes:
        grade: Edmondson–Steiner grade 1, 2 or 3.
        latent: aggressiveness ``a = grade - 2 + noise`` that drives every grade-linked trait.
        n_tumours: number of tumours (0 = liver-only case).
        main_radius_mm: main tumour radius.
        satellite_radii_mm: radii of the other tumours.
        dispersed: per satellite, whether it is seeded anywhere in the liver (else near the main one).
        fdg_tlr, acetate_tlr: patient-level tumour-to-liver ratios.
        washout_hu, texture_hu: patient-level CT traits.
        necrosis: necrotic core fraction of the main tumour (0 = none).
        age, sex, hepatitis, afp: clinical columns of the manifest.
    """

    grade: int
    latent: float
    n_tumours: int
    main_radius_mm: float
    satellite_radii_mm: list[float]
    dispersed: list[bool]
    fdg_tlr: float
    acetate_tlr: float
    washout_hu: float
    texture_hu: float
    necrosis: float
    age: int
    sex: str
    hepatitis: str
    afp: float
    lesions: list[LesionSpec] = field(default_factory=list)


def allocate_grades(n_patients: int, rng: np.random.Generator) -> list[int]:
    """Grades for ``n_patients`` in :data:`RULES` proportions (largest remainder), shuffled.

    Every grade appears once ``n_patients >= 3``, so even a 4-patient smoke cohort has all classes.
    """
    props = np.array([RULES["grade_proportions"][str(g)] for g in (1, 2, 3)])
    raw = props * n_patients
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n_patients - counts.sum()]:
        counts[i] += 1
    if n_patients >= 3:
        for i in np.flatnonzero(counts == 0):  # take from the largest class
            counts[int(np.argmax(counts))] -= 1
            counts[i] += 1
    grades = np.repeat([1, 2, 3], counts)
    rng.shuffle(grades)
    return [int(g) for g in grades]


def draw_patient(grade: int, rng: np.random.Generator) -> PatientSpec:
    """Draw a patient's hidden traits from its grade by the rules in :data:`RULES`."""
    r = RULES
    a = grade - 2 + rng.normal(0.0, r["latent_sd"])
    if rng.random() < r["p_no_tumour"]:
        n = 0
    else:
        lam = r["satellites_lambda0"] * math.exp(r["satellites_slope"] * a)
        n = min(1 + int(rng.poisson(lam)), r["max_tumours"])
    lo, hi = r["main_radius_clip_mm"]
    main_r = float(np.clip(r["main_radius_mm"] * math.exp(r["main_radius_slope"] * a
                                                           + rng.normal(0, r["main_radius_sd"])), lo, hi))
    sat_r = [float(rng.uniform(*r["satellite_radius_mm"])) for _ in range(max(n - 1, 0))]
    p_far = _sigmoid(r["dispersion_slope"] * a + r["dispersion_offset"])
    p_nec = _sigmoid(r["necrosis_slope"] * a + r["necrosis_offset"])
    necrosis = float(rng.uniform(0.35, 0.6)) if main_r >= r["necrosis_min_radius_mm"] and rng.random() < p_nec else 0.0
    return PatientSpec(
        grade=grade,
        latent=float(a),
        n_tumours=n,
        main_radius_mm=main_r,
        satellite_radii_mm=sat_r,
        dispersed=[bool(rng.random() < p_far) for _ in sat_r],
        fdg_tlr=math.exp(r["fdg_tlr_log0"] + r["fdg_tlr_slope"] * a + rng.normal(0, r["tlr_sd"])),
        acetate_tlr=math.exp(r["acetate_tlr_log0"] + r["acetate_tlr_slope"] * a + rng.normal(0, r["tlr_sd"])),
        washout_hu=r["washout_hu"] + r["washout_slope"] * a + rng.normal(0, r["washout_sd"]),
        texture_hu=r["texture_hu"] * math.exp(r["texture_slope"] * a + rng.normal(0, r["texture_sd"])),
        necrosis=necrosis,
        # HCC is male-predominant, HBV-dominated in Asian series; these columns carry no grade signal
        # except AFP, which is higher in poorly differentiated tumours.
        age=int(np.clip(round(rng.normal(62, 10)), 30, 88)),
        sex="M" if rng.random() < 0.78 else "F",
        hepatitis=str(rng.choice(["HBV", "HCV", "none"], p=[0.5, 0.2, 0.3])),
        afp=round(float(10 ** (r["afp_log10"] + r["afp_slope"] * a + rng.normal(0, r["afp_sd"]))), 1),
    )


def _signed(v: float) -> str:
    return f"{'-' if v < 0 else '+'} {abs(v)}"


def rules_markdown() -> str:
    """The grade rules as Markdown, with the numbers of :data:`RULES` (used for the cohort README)."""
    r = RULES
    p = r["grade_proportions"]
    table = "\n".join([
        "| trait | rule | signal in |",
        "|---|---|---|",
        f"| multiplicity | no tumour with P = {r['p_no_tumour']}; else 1 + Poisson({r['satellites_lambda0']} "
        f"exp({r['satellites_slope']} a)), at most {r['max_tumours']} | masks / CT |",
        f"| dispersion | each satellite seeded anywhere in the liver with P = sigmoid({r['dispersion_slope']} a "
        f"{_signed(r['dispersion_offset'])}), else 8-25 mm from the main tumour | masks / CT |",
        f"| size | main radius {r['main_radius_mm']} mm x exp({r['main_radius_slope']} a + "
        f"N(0, {r['main_radius_sd']})), clipped to {r['main_radius_clip_mm']} mm; satellites "
        f"{r['satellite_radius_mm']} mm (many under 1 ml) | masks / CT |",
        f"| washout | liver minus tumour HU = {r['washout_hu']} + {r['washout_slope']} a + N(0, {r['washout_sd']}) "
        "(weak) | CT |",
        f"| texture | internal smooth heterogeneity SD = {r['texture_hu']} HU x exp({r['texture_slope']} a + "
        f"N(0, {r['texture_sd']})), under the scanner's image noise (see Acquisition) | CT |",
        f"| necrosis | main tumours of radius >= {r['necrosis_min_radius_mm']} mm get a ~20 HU, PET-cold core with "
        f"P = sigmoid({r['necrosis_slope']} a {_signed(r['necrosis_offset'])}) | CT, PET |",
        f"| FDG | tumour-to-liver SUV ratio exp({r['fdg_tlr_log0']} + {r['fdg_tlr_slope']} a + N(0, {r['tlr_sd']})): "
        "poorly differentiated HCC is FDG-avid | FDG PET |",
        f"| acetate | tumour-to-liver SUV ratio exp({r['acetate_tlr_log0']} {_signed(r['acetate_tlr_slope'])} a + "
        f"N(0, {r['tlr_sd']})): well-differentiated HCC is acetate-avid | acetate PET |",
        f"| AFP | log10 AFP (ng/mL) = {r['afp_log10']} + {r['afp_slope']} a + N(0, {r['afp_sd']}) | clinical |",
    ])
    return f"""\
## Grade rules

Each patient gets an Edmondson–Steiner grade g (proportions 1: {p['1']}, 2: {p['2']}, 3: {p['3']}) and a
hidden aggressiveness a = (g - 2) + N(0, {r['latent_sd']}). Every grade-linked trait reads a, never g, so
neighbouring grades overlap.

{table}

Satellites vary their uptake ratios by a further N(0, {r['satellite_tlr_sd']}) in log. PET is blurred
(7 mm FWHM), sampled on its own coarser grid and noisy, so small lesions read lower (partial volume).
PET carries more grade information than CT by construction: the teacher premise of REACT-KD.
About {int(r['repeat_fraction'] * 100)}% of patients have a second case (same anatomy and grade, new pose and noise).

Sources: Edmondson & Steiner, Cancer 1954;7:462-503 (grading); Torizuka et al., J Nucl Med
1995;36:1811-1817 (FDG and differentiation); Ho, Yu & Yeung, J Nucl Med 2003;44:213-221 (11C-acetate
and differentiation).
"""
