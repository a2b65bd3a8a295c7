"""Low-dose CT simulation timings (issue 4): our batched sparse projector vs scikit-image per slice.

Figures (seconds, wall clock, this machine; CPU shared with other jobs makes them noisy):
- ``ldct_96_s``: one 96^3 volume at ``severe``, projector matrices already built (as in training).
- ``ldct_96_cold_s``: the same including building the matrices (first volume of a grid).
- ``ldct_96_skimage_s``: scikit-image ``radon`` + ``iradon`` (Hann) of the same 96 slices, same views.
- ``ldct_512x512x200_s``: one 512 x 512 x 200 volume at ``severe`` (matrices too big to keep: rebuilt).
- ``ldct_512_skimage_slice_s``: scikit-image ``radon`` + ``iradon`` of one 512^2 slice, same views
  (times 200 for a volume).
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
    warm = min(_timed(lambda: sim.simulate_array(vol, (2.0, 4.0, 4.0), "severe", seed=s)) for s in (1, 2))
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


def figures() -> dict:
    return {
        "ldct_96_s,ldct_96_cold_s": _ours_96,
        "ldct_96_skimage_s": lambda: _skimage(96, 96),
        "ldct_512x512x200_s": _ours_512,
        "ldct_512_skimage_slice_s": lambda: _skimage(512, 1),
    }
