"""Low-dose CT simulation timings: our batched sparse projector vs scikit-image per slice.

Figures (seconds, wall clock, this machine; CPU shared with other jobs makes them noisy):
- ``ldct_96_s``: one 96^3 volume at ``severe``, projector matrices already built (as in training).
- ``ldct_96_cold_s``: the same including building the matrices (first volume of a grid).
- ``ldct_96_skimage_s``: scikit-image ``radon`` + ``iradon`` (Hann) of the same 96 slices, same views.
- ``ldct_512x512x200_s``: one 512 x 512 x 200 volume at ``severe`` (matrices too big to keep: rebuilt).
- ``ldct_512_skimage_slice_s``: scikit-image ``radon`` + ``iradon`` of one 512^2 slice, same views
  (times 200 for a volume).
- ``phantom_acquire_case_s``: the scanner model forming one main-site phantom CT (192 x 192 x 64,
  2 x 2 x 5 mm: projection, Poisson + electronic noise, FBP), matrices already built.
- ``ldct_phantom_case_s``: one phantom case at ``severe`` on its acquired grid, as the dose teacher and
  ``evaluate --dose`` do (the slices the model grid reaches, then resampled), cache empty.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "REACTKD"))


def _body(z: int, n: int) -> np.ndarray:
    """An abdomen-like HU volume: water ellipse, fat rim, liver, spine; air outside."""
    yy, xx = np.mgrid[:n, :n] / n - 0.5
    hu = np.full((n, n), -1000.0, np.float32)
    hu[(xx / 0.45) ** 2 + (yy / 0.33) ** 2 < 1] = -100.0
    hu[(xx / 0.42) ** 2 + (yy / 0.30) ** 2 < 1] = 40.0
    hu[((xx + 0.15) / 0.18) ** 2 + ((yy + 0.05) / 0.15) ** 2 < 1] = 60.0
    hu[(xx / 0.05) ** 2 + ((yy - 0.2) / 0.05) ** 2 < 1] = 700.0
    return np.repeat(hu[None], z, axis=0)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _ours_96() -> dict:
    from reactkd.dose import LowDoseSimulator
    from reactkd.dose.projector import cached_projector

    cached_projector.cache_clear()
    vol, sim = _body(96, 96), LowDoseSimulator()
    cold = _timed(lambda: sim.simulate_array(vol, (2.0, 4.0, 4.0), "severe", seed=0))
    warm = min(_timed(lambda seed=s: sim.simulate_array(vol, (2.0, 4.0, 4.0), "severe", seed=seed)) for s in (1, 2))
    return {"ldct_96_s": warm, "ldct_96_cold_s": cold}


def _skimage(n: int, z: int) -> float:
    from skimage.transform import iradon, radon

    from reactkd.dose.projector import default_n_angles

    theta = np.arange(default_n_angles(n)) * 180.0 / default_n_angles(n)
    mu = 0.0192 * (1 + np.maximum(_body(z, n), -1000.0) / 1000.0)

    def run():
        for sl in mu:
            iradon(radon(sl, theta, circle=False), theta, circle=False, filter_name="hann", output_size=n)

    return _timed(run)


def _ours_512() -> float:
    from reactkd.dose import LowDoseSimulator

    vol = _body(200, 512)
    return _timed(lambda: LowDoseSimulator().simulate_array(vol, (1.0, 0.75, 0.75), "severe", seed=0))


def _phantom_case() -> dict:
    import tempfile

    from reactkd.cohort import PreprocessCache, read_manifest
    from reactkd.dose.scanner import acquire
    from reactkd.phantom.cohort import generate_cohort
    from reactkd.phantom.site import SITES
    from reactkd.train.data import LowDose

    acquisition = SITES["main"].acquisition
    vol = _body(64, 192)
    acquire(vol[:2], (5.0, 2.0, 2.0), acquisition)  # builds the 192^2 matrices
    acquire_s = _timed(lambda: acquire(vol, (5.0, 2.0, 2.0), acquisition, seed=1))
    with tempfile.TemporaryDirectory() as tmp:
        records = read_manifest(generate_cohort(Path(tmp) / "c", n_patients=1, seed=0))
        mi = PreprocessCache(None).get(records[0])
        ldct_s = _timed(lambda: LowDose(Path(tmp) / "dose", "severe", 0, records)(mi))
    return {"phantom_acquire_case_s": acquire_s, "ldct_phantom_case_s": ldct_s}


def figures() -> dict:
    return {
        "phantom_acquire_case_s,ldct_phantom_case_s": _phantom_case,
        "ldct_96_s,ldct_96_cold_s": _ours_96,
        "ldct_96_skimage_s": lambda: _skimage(96, 96),
        "ldct_512x512x200_s": _ours_512,
        "ldct_512_skimage_slice_s": lambda: _skimage(512, 1),
    }
