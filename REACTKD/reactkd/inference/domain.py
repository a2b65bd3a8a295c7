"""What a model was trained on (its input domain), and whether a new case lies inside it.

A run's training domain (``RUN/training_domain.json``) records, over the run's cases: the CT voxel size
per axis (min, max), the liver's median HU (min, max over cases), and which PET tracers the cases had.
A case is flagged — never refused — when its voxel size lies outside the range by more than
:data:`SPACING_TOLERANCE`, its liver median HU by more than :data:`HU_MARGIN`, or it lacks a modality
(or has a tracer) the model learnt with. The flags say the grade comes from inputs unlike the model's
training cases; they are not a correction of it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from reactkd.io.case import Case

__all__ = ["case_statistics", "training_domain", "domain_warnings", "read_domain", "write_domain",
           "SPACING_TOLERANCE", "HU_MARGIN"]

SPACING_TOLERANCE = 0.10
"""Relative tolerance on each axis' voxel size before a case is flagged (10 %)."""
HU_MARGIN = 25.0
"""HU margin on the liver median range before a case is flagged (contrast phases differ by ~20-50 HU)."""
FILENAME = "training_domain.json"


def case_statistics(case: Case) -> dict:
    """``{"spacing_mm": [x, y, z], "liver_median_hu": float | None, "pet": [tracers]}`` of one case,
    on its own CT grid."""
    ct = sitk.GetArrayViewFromImage(case.ct)
    liver = sitk.GetArrayViewFromImage(case.liver) != 0
    median = float(np.median(ct[liver])) if liver.any() else None
    return {"spacing_mm": [round(float(s), 4) for s in case.ct.GetSpacing()], "liver_median_hu": median,
            "pet": sorted(case.pets)}


def training_domain(stats: list[dict]) -> dict:
    """The domain of a list of :func:`case_statistics`."""
    if not stats:
        raise ValueError("`stats` must hold at least one case's statistics, got 0.")
    spacing = np.array([s["spacing_mm"] for s in stats], float)
    hu = [s["liver_median_hu"] for s in stats if s["liver_median_hu"] is not None]
    tracers = sorted({t for s in stats for t in s["pet"]})
    return {"cases": len(stats),
            "spacing_mm": {"min": spacing.min(0).round(4).tolist(), "max": spacing.max(0).round(4).tolist()},
            "liver_median_hu": {"min": round(min(hu), 1), "max": round(max(hu), 1)} if hu else None,
            "pet_share": {t: round(sum(t in s["pet"] for s in stats) / len(stats), 4) for t in tracers}}


def domain_warnings(stats: dict, domain: dict | None, model_tracers: list[str]) -> list[str]:
    """One sentence per way the case lies outside the training domain (empty: inside)."""
    out = []
    for tracer in model_tracers:
        if tracer not in stats["pet"] and (domain is None or domain["pet_share"].get(tracer, 0) > 0):
            share = f" ({100 * domain['pet_share'][tracer]:.0f} % of training cases had it)" if domain else ""
            out.append(f"{tracer.upper()} PET missing: graded without it{share}.")
    extra = sorted(set(stats["pet"]) - set(model_tracers))
    if extra:
        out.append(f"PET tracer(s) {', '.join(extra)} given but not used: the model was not trained on them.")
    if domain is None:
        return out
    lo, hi = np.array(domain["spacing_mm"]["min"]), np.array(domain["spacing_mm"]["max"])
    sp = np.array(stats["spacing_mm"])
    if np.any(sp < lo * (1 - SPACING_TOLERANCE)) or np.any(sp > hi * (1 + SPACING_TOLERANCE)):
        out.append(f"voxel size {_mm(sp)} mm is outside the training range {_mm(lo)}–{_mm(hi)} mm.")
    hu, rng = stats["liver_median_hu"], domain.get("liver_median_hu")
    if hu is not None and rng and not (rng["min"] - HU_MARGIN <= hu <= rng["max"] + HU_MARGIN):
        out.append(f"liver median {hu:.0f} HU is outside the training range {rng['min']:.0f}–{rng['max']:.0f} HU "
                   f"(another contrast phase or calibration?).")
    return out


def _mm(values) -> str:
    return "×".join(f"{v:.2g}" for v in values)


def read_domain(run: str | os.PathLike) -> dict | None:
    path = Path(run) / FILENAME
    return json.loads(path.read_text()) if path.is_file() else None


def write_domain(run: str | os.PathLike, domain: dict) -> Path:
    path = Path(run) / FILENAME
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(domain, indent=1))
    os.replace(tmp, path)
    return path
