"""The embedded default cohort: synthetic HCC patients written as an ordinary manifest + NIfTI files.

Each case has a portal-venous CT (int16 HU, formed by the project's scanner model at a declared
fluence, see :mod:`reactkd.phantom.site` and the cohort's README) with a body, spine, aorta,
kidneys, spleen and a deformed liver on the patient's right (negative LPS x), 0-6 tumours inside the
liver, FDG and 11C-acetate PET (float32 SUV) on their own coarser grid (twice the CT spacing, shifted
origin), and liver/tumour masks (uint8; the liver mask includes its tumours). Because the cohort is
plain files behind a plain manifest, it flows through exactly the same loading path as real data.

Grade rules (numbers in :data:`reactkd.phantom.rules.RULES`, restated in the cohort's README.md):
a patient of grade g has a hidden aggressiveness a = (g - 2) + N(0, 0.45) that drives

- multiplicity: no tumour with P = 0.04, else 1 + Poisson(0.55 exp(1.0 a)) tumours (at most 6), so
  grade 1 is usually solitary and grade 3 often multifocal;
- dispersion: each satellite is seeded anywhere in the liver with P = sigmoid(1.5 a - 0.5), else
  8-25 mm from the main tumour;
- size: main radius 13 mm x exp(0.15 a + N(0, 0.3)), clipped to 5-32 mm; satellites 4.5-8 mm (many
  under 1 ml);
- CT (weak on purpose): washout (liver minus tumour) 10 + 4 a + N(0, 6) HU; internal texture SD
  6 exp(0.35 a + N(0, 0.35)) HU under the scanner's image noise; tumours of radius >= 10 mm get a necrotic
  (~20 HU, PET-cold) core with P = sigmoid(1.2 a - 0.8);
- PET (stronger): FDG tumour-to-liver ratio exp(0.30 + 0.5 a + N(0, 0.15)) rises with grade [2];
  acetate ratio exp(0.30 - 0.5 a + N(0, 0.15)) falls with grade [3];
- AFP: log10 AFP = 1.0 + 0.35 a + N(0, 0.8); age, sex and hepatitis carry no grade signal.

``site="external"`` writes a second cohort from another hospital: CT only, another scanner (fluence,
kernel, pixel, slice thickness), delayed contrast phase and other patients, for external validation.

Measured before the scanner model (generator version 1; ``Testing/core/test_phantom.py``; 90
patients, seeds 0-3, 64 x 64 x 48 grid): a
cross-validated multinomial logistic regression on five hand features per case (tumour count, CT
texture and washout, FDG and acetate tumour-to-liver ratios) reaches a macro one-vs-rest AUC of
0.86-0.88; CT-only features 0.66-0.72, PET-only 0.87-0.89. On the then-default 96 x 96 x 64 grid, 90
patients (seeds 0-1) give 0.87-0.90 / 0.66-0.79 / 0.88-0.90, and the default cohort (60 patients,
seed 0) 0.81 / 0.62 / 0.85. With the scanner model (version 2; seed 0, 64 x 64 x 48): 0.86 / 0.72 / 0.87.

References:
    1. Edmondson HA, Steiner PE. Cancer 1954;7(3):462-503.
    2. Torizuka T et al. In vivo assessment of glucose metabolism in hepatocellular carcinoma with
       FDG-PET. J Nucl Med 1995;36(10):1811-1817.
    3. Ho CL, Yu SCH, Yeung DWC. 11C-acetate PET imaging in hepatocellular carcinoma and other liver
       masses. J Nucl Med 2003;44(2):213-221.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from reactkd.phantom.rules import RULES
from reactkd.phantom.site import SITES, site_named
from reactkd.phantom.writer import CASE_FILES, MANIFEST_COLUMNS, write_cohort

__all__ = ["DEFAULT_PATIENTS", "DEFAULT_SIZE", "GENERATOR", "GENERATOR_VERSION", "MANIFEST_COLUMNS", "RULES", "SITES",
           "generate_cohort"]

GENERATOR = "reactkd.cohort.phantom"
"""The generator's name in ``cohort.json`` (read by :mod:`reactkd.phantom.oracle` and the Slicer model
picker); a stable name, not this module's path."""
GENERATOR_VERSION = "3"
"""Bump whenever the same parameters would give different files; a cohort of another version is refused."""

DEFAULT_PATIENTS = 60
DEFAULT_SIZE = SITES["main"].size
"""CT acquisition grid (x, y, z) in voxels over a fixed 384 x 384 x 320 mm field of view (2 x 2 x 5 mm)."""


_log = logging.getLogger(__name__)


def _check_args(n_patients: object, seed: object, size: object) -> tuple[int, int, tuple[int, int, int]]:
    def is_int(v: object) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(n_patients):
        raise TypeError(f"`n_patients` must be an int, got {type(n_patients).__name__} {n_patients!r}.")
    if n_patients < 1:  # type: ignore[operator]
        raise ValueError(f"`n_patients` must be >= 1, got {n_patients}.")
    if not is_int(seed):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__} {seed!r}.")
    if seed < 0:  # type: ignore[operator]
        raise ValueError(f"`seed` must be >= 0, got {seed}.")
    if not isinstance(size, (tuple, list)) or len(size) != 3 or not all(is_int(s) and s >= 16 for s in size):
        raise ValueError(f"`size` must be three ints >= 16 (x, y, z voxels), got {size!r}.")
    return int(n_patients), int(seed), (int(size[0]), int(size[1]), int(size[2]))  # type: ignore[index]


def generate_cohort(out_dir: str | os.PathLike[str], n_patients: int = DEFAULT_PATIENTS, seed: int = 0,
                    size: tuple[int, int, int] | None = None, site: str = "main") -> Path:
    """Write the embedded phantom cohort (or reuse it) and return the path of its ``manifest.csv``.

    The folder is built in a hidden sibling and renamed into place, so ``out_dir`` is either absent,
    or complete. Layout: ``manifest.csv`` (columns :data:`MANIFEST_COLUMNS`, paths relative to it),
    ``cohort.json`` (parameters, generator version, rules, per-case truth such as the latent score),
    ``README.md`` (the rules in words) and ``cases/<case_id>/{ct,pet_fdg,pet_acetate,liver,tumor}.nii.gz``.

    Args:
        out_dir: folder to create; may exist only if empty or if it already holds this very cohort.
        n_patients: number of patients (>= 1); about 15% get a second case (patient-level folds).
        seed: non-negative seed; the same seed and parameters give identical arrays.
        size: CT acquisition grid (x, y, z) in voxels, each >= 16, over a fixed 384 x 384 x 320 mm field
            of view; default the site's (main 192 x 192 x 64, external 160 x 160 x 80).
        site: ``"main"`` (PET/CT, the training cohort) or ``"external"`` (CT only, another scanner,
            contrast timing and patients; :mod:`reactkd.phantom.site`).

    Returns:
        Path of ``out_dir/manifest.csv``.

    Raises:
        TypeError: if ``n_patients`` or ``seed`` is not an int.
        ValueError: for out-of-range arguments, or if ``out_dir`` is a file, a non-empty folder that is
            not this cohort with these parameters, or this cohort with files missing. Nothing the
            user made is ever overwritten or deleted.

    Example:
        >>> manifest = generate_cohort("/tmp/phantom", n_patients=4, seed=1)  # doctest: +SKIP
    """
    chosen = site_named(site)
    n_patients, seed, size = _check_args(n_patients, seed, chosen.size if size is None else size)
    out = Path(out_dir)
    params = {"n_patients": n_patients, "seed": seed, "size": list(size), "site": chosen.name}
    if _existing_cohort(out, params):
        _log.info("Reusing the phantom cohort in %s (same parameters and generator version).", out)
        return out / "manifest.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        write_cohort(tmp, params, generator=GENERATOR, version=GENERATOR_VERSION)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # only ever our own hidden build folder
        raise
    try:
        if out.is_dir():  # empty (checked above); rmdir refuses if a concurrent writer filled it
            out.rmdir()
        os.rename(tmp, out)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if _existing_cohort(out, params):  # another process finished the same cohort first
            return out / "manifest.csv"
        raise
    _log.info("Wrote the phantom cohort (%s site, %d patients, seed %d) to %s.", chosen.name, n_patients, seed, out)
    return out / "manifest.csv"


def _existing_cohort(out: Path, params: dict) -> bool:
    """True if ``out`` holds this complete cohort; False if absent or empty; otherwise ValueError."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise ValueError(f"`out_dir` must be a folder, got the existing file {out}.")
    if not any(out.iterdir()):
        return False
    try:
        meta = json.loads((out / "cohort.json").read_text(encoding="utf-8"))
        found = (meta.get("generator"), meta.get("generator_version"), meta.get("parameters"))
    except (OSError, ValueError, AttributeError):
        found = None
    wanted = (GENERATOR, GENERATOR_VERSION, params)
    if found != wanted:
        what = "no phantom cohort.json" if found is None else f"version {found[1]}, parameters {found[2]}"
        raise ValueError(
            f"`out_dir` {out} is not empty and is not the phantom cohort with parameters {params} "
            f"(version {GENERATOR_VERSION}); it holds {what}. Choose a new or empty folder; nothing was changed."
        )
    with open(out / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    missing = [rel for row in rows for key in CASE_FILES if (rel := row[key]) and not (out / rel).is_file()]
    if not rows or missing:
        raise ValueError(f"`out_dir` {out} holds the phantom cohort with files missing ({missing[:3]} ...); "
                         "delete it yourself or choose another folder.")
    return True
