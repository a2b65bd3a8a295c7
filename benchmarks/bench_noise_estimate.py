"""Fluence estimated without a mask: accuracy on real CTs and on scanned water, and its cost.

Figures (HU unless named ``_s``; ``python benchmarks/bench_noise_estimate.py`` prints them as a table):

- ``noise_<ct>_{liver,soft_band,flat}_hu``: the image noise :func:`measure_noise_std` reads in the liver
  (the mask), in all soft tissue (-20 to 120 HU, the former mask-less region) and in the flat soft tissue
  (:mod:`reactkd.dose.flat_region`, the mask-less region now), for the real CTs beside the project
  (``../shared/data/real``: ``ts``, TotalSegmentator's 3 mm abdomen, liver = label 5; ``dcmqi``, a
  3-slice 0.8 mm liver CT with its liver label map); absent when that folder is.
- ``added_<ct>_{liver,soft_band,flat}_hu``: the noise a quarter dose adds in the liver (robust SD of
  low-dose minus native in the eroded liver, seed 0) when the fluence is estimated from that region;
  ``liver_quarter_<ct>_{...}_hu``: the liver's noise at that quarter dose.
- ``flat_selection_bias_{3,2,1}mm``: a water cylinder (no anatomy) scanned twice by the scanner model at
  3, 2 and 1 mm pixels; the flat region chosen on the first scan; the noise the first scan shows there
  over the noise the second (independent) scan shows in the same voxels: what choosing the voxels by
  their own local SD costs when all of it is noise (1.0 = no bias); ``flat_dropped_{3,2,1}mm``: the
  share of the soft-tissue band left out there (the cylinder's rim, where windows reach the air, and
  windows whose noise happened to be high).
- ``flat_region_512x512x200_s``: :func:`flat_region` on a 512 x 512 x 200 abdomen-like volume.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "REACTKD"))
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
REGIONS = ("liver", "soft_band", "flat")


def _real_cts() -> dict:
    """``{name: (hu, spacing, liver)}`` for the real CTs that are present."""
    import SimpleITK as sitk

    from reactkd.io import load_case

    cts = {}
    if (REAL / "totalsegmentator").is_dir():
        folder = REAL / "totalsegmentator"
        cts["ts"] = load_case(folder / "example_ct_sm.nii.gz", f"{folder / 'example_seg.nii.gz'}:5")
    if (REAL / "dcmqi").is_dir():
        cts["dcmqi"] = load_case(REAL / "dcmqi/ct-3slice", REAL / "dcmqi/liver_seg.nrrd")
    return {name: (sitk.GetArrayFromImage(c.ct).astype(np.float32), tuple(reversed(c.ct.GetSpacing())),
                   sitk.GetArrayFromImage(c.liver) > 0) for name, c in cts.items()}


def regions(hu: np.ndarray, spacing, liver: np.ndarray) -> dict:
    """The three regions compared: liver mask, soft-tissue band, flat soft tissue."""
    from reactkd.dose.noise_estimate import noise_region, soft_tissue_region

    return {"liver": noise_region(hu, spacing, liver), "soft_band": soft_tissue_region(hu),
            "flat": noise_region(hu, spacing)}


def real_ct_figures() -> dict:
    from reactkd.dose import LowDoseSimulator
    from reactkd.dose.noise_estimate import estimate_acquisition, measure_noise_std

    out = {}
    for name, (hu, spacing, liver) in _real_cts().items():
        found = regions(hu, spacing, liver)
        for key, region in found.items():
            acquisition, sigma = estimate_acquisition(hu, spacing, region)
            low = LowDoseSimulator.for_acquisition(acquisition).simulate_array(hu, spacing, 0.25, seed=0)
            out[f"noise_{name}_{key}_hu"] = sigma
            out[f"added_{name}_{key}_hu"] = measure_noise_std(low - hu, found["liver"], spacing)
            out[f"liver_quarter_{name}_{key}_hu"] = measure_noise_std(low, found["liver"], spacing)
    return out


def selection_bias() -> dict:
    from reactkd.dose.acquisition import Acquisition
    from reactkd.dose.flat_region import flat_region
    from reactkd.dose.noise_estimate import measure_noise_std, soft_tissue_region
    from reactkd.dose.scanner import acquire

    out = {}
    for n, pixel in ((100, 3.0), (128, 2.0), (192, 1.0)):
        yy, xx = np.mgrid[:n, :n]
        water = np.where(np.hypot(yy - n / 2, xx - n / 2) * pixel < 0.45 * n * pixel, 40.0, -1000.0)
        spacing = (3.0, pixel, pixel)
        scans = [acquire(np.repeat(water[None].astype(np.float32), 8, 0), spacing,
                         Acquisition(fluence=3e6 * (3.0 / pixel) ** 3), seed=seed) for seed in (1, 2)]
        band = soft_tissue_region(scans[0])
        flat = flat_region(scans[0], band, spacing)
        tag = f"{pixel:g}mm"
        # The second scan's noise is independent of the selection made on the first one.
        out[f"flat_selection_bias_{tag}"] = (measure_noise_std(scans[0], flat, spacing)
                                             / measure_noise_std(scans[1], flat, spacing))
        out[f"flat_dropped_{tag}"] = 1.0 - flat.sum() / band.sum()
    return out


def timing_512() -> float:
    from reactkd.dose.flat_region import flat_region
    from reactkd.dose.noise_estimate import soft_tissue_region

    n = 512
    yy, xx = np.mgrid[:n, :n] / n - 0.5
    hu = np.full((n, n), -1000.0, np.float32)
    hu[(xx / 0.45) ** 2 + (yy / 0.33) ** 2 < 1] = -100.0
    hu[(xx / 0.42) ** 2 + (yy / 0.30) ** 2 < 1] = 40.0
    hu[((xx + 0.15) / 0.18) ** 2 + ((yy + 0.05) / 0.15) ** 2 < 1] = 60.0
    vol = np.repeat(hu[None], 200, 0) + np.random.default_rng(0).normal(0, 15, (200, n, n)).astype(np.float32)
    start = time.perf_counter()
    flat_region(vol, soft_tissue_region(vol), (1.0, 0.75, 0.75))
    return time.perf_counter() - start


def figures() -> dict:
    return {
        "noise_ts_liver_hu,noise_dcmqi_liver_hu": real_ct_figures,
        "flat_selection_bias_3mm,flat_dropped_3mm": selection_bias,
        "flat_region_512x512x200_s": timing_512,
    }


if __name__ == "__main__":
    measured = {**real_ct_figures(), **selection_bias()}
    print("| CT | figure | liver mask | soft-tissue band (before) | flat soft tissue (now) |")
    print("|---|---|---|---|---|")
    for name in ("ts", "dcmqi"):
        for what, label in (("noise", "image noise"), ("added", "added at 1/4 dose"),
                            ("liver_quarter", "liver noise at 1/4 dose")):
            if f"{what}_{name}_liver_hu" in measured:
                row = " | ".join(f"{measured[f'{what}_{name}_{r}_hu']:.1f}" for r in REGIONS)
                print(f"| {name} | {label} (HU) | {row} |")
    for key, value in measured.items():
        if key.startswith("flat_"):
            print(f"{key}: {value:.3f}")
