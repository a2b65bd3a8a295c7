"""The phantom's CT as the scanner acquired it: dose degradation on that grid keeps the anatomy, and the
external site is another scanner, protocol and set of patients."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from reactkd.cohort import PreprocessCache, read_manifest
from reactkd.dose import LowDoseSimulator
from reactkd.dose.acquisition import read_acquisition
from reactkd.dose.noise_estimate import measure_noise_std
from reactkd.phantom.cohort import generate_cohort
from reactkd.train.data import LowDose

SIZE = (96, 96, 32)  # 4 x 4 x 10 mm: the scanner model at a test's cost


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return generate_cohort(tmp_path_factory.mktemp("acq") / "main", n_patients=3, seed=1, size=SIZE)


def _arrays(root: Path, row: dict) -> tuple[sitk.Image, np.ndarray, np.ndarray]:
    ct = sitk.ReadImage(str(root / row["ct"]))
    liver, tumor = (sitk.GetArrayFromImage(sitk.ReadImage(str(root / row[k]))) > 0
                    for k in ("liver_mask", "tumor_mask"))
    return ct, liver, tumor


def test_dose_keeps_liver_and_tumour_values_and_geometry(cohort):
    root = cohort.parent
    rows = list(csv.DictReader(open(cohort, newline="")))
    checked = 0
    for row in rows:
        ct, liver, tumor = _arrays(root, row)
        acquisition = read_acquisition(root / row["ct"])
        assert acquisition is not None and acquisition.kernel == "hann"
        native = sitk.GetArrayFromImage(ct).astype(np.float32)
        parenchyma = ndimage.binary_erosion(liver & ~tumor, iterations=1)
        spacing = tuple(reversed(ct.GetSpacing()))
        sigma = measure_noise_std(native, parenchyma, spacing)
        added = {}
        for k, level in ((0.5, "mild"), (0.25, "severe")):
            low_image = LowDoseSimulator.for_acquisition(acquisition)(ct, level, seed=3)
            assert low_image.GetSize() == ct.GetSize() and low_image.GetSpacing() == ct.GetSpacing()
            assert low_image.GetOrigin() == ct.GetOrigin() and low_image.GetDirection() == ct.GetDirection()
            low = sitk.GetArrayFromImage(low_image)
            assert abs(low[parenchyma].mean() - native[parenchyma].mean()) < 5.0, (row["case_id"], level)
            if tumor.sum() > 50:
                assert abs(low[tumor].mean() - native[tumor].mean()) < 5.0, (row["case_id"], level)
                checked += 1
            added[k] = measure_noise_std(low - native, parenchyma, spacing)
        # The same scanner at fewer photons: added variance (1/k - 1) x the scan's quantum variance, which
        # is the variance a half dose adds; it is part of (not all of: kernel-blurred edges) the scan's noise.
        # Electronic noise adds more at a quarter than at a half dose (Zeng et al. 2015: its share grows as the
        # counts fall; at clinical noise a ray through the abdomen keeps a few hundred photons), so the ratio
        # is sqrt(3) or a little above (measured x 1.04 to x 1.08 at this grid, 3 cases).
        ratio = added[0.25] / added[0.5]
        assert np.sqrt(3) * 0.995 < ratio < np.sqrt(3) * 1.1, (row["case_id"], ratio)
        # Half the dose adds the quantum variance once more, and electronic variance (1 + k) / k^2 = 6 times
        # the scan's (Zeng et al. 2015), so a little above the scan's noise where rays are few hundred photons.
        assert 0.3 * sigma < added[0.5] < 1.1 * sigma  # measured 0.99 to 1.07 x sigma
    assert checked >= 2


def test_low_dose_is_simulated_on_the_acquired_grid_then_resampled(cohort, tmp_path):
    records = read_manifest(cohort)
    cache = PreprocessCache(None)
    mi = cache.get(records[0])
    severe = LowDose(tmp_path / "dose", "severe", 0, records)
    hu = severe(mi)
    assert hu.shape == mi.ct_hu.shape[1:] and severe.sources[mi.case_id] == "declared"
    organ = mi.organ_mask > 0
    assert abs(hu[organ].mean() - mi.ct_hu[0][organ].mean()) < 5.0
    native = LowDose(tmp_path / "dose", "native", 0, records)
    np.testing.assert_allclose(native(mi), mi.ct_hu[0], atol=1e-3)  # the same resampling as preprocessing
    assert severe.noise_hu[mi.case_id] > 1.5 * native.noise_hu[mi.case_id]
    # The added noise survives the resampling to the coarse model grid (most of its std, not < 1 HU).
    added_acquired = np.sqrt(severe.noise_hu[mi.case_id] ** 2 - native.noise_hu[mi.case_id] ** 2)
    assert (hu - mi.ct_hu[0])[organ].std() > 0.5 * added_acquired
    assert list((tmp_path / "dose" / mi.case_id).glob("severe_seed0_*.nii"))  # cached on disk
    with pytest.raises(ValueError, match="no manifest record for case"):
        LowDose(tmp_path / "dose", "severe", 0, [])(mi)


def test_external_site_is_another_scanner_protocol_and_patients(cohort, tmp_path):
    ext = generate_cohort(tmp_path / "ext", n_patients=3, seed=1, size=(80, 80, 40), site="external")
    rows = list(csv.DictReader(open(ext, newline="")))
    assert all(r["pet_fdg"] == "" and r["pet_acetate"] == "" and r["cohort"] == "phantom-external" for r in rows)
    assert not list((ext.parent / "cases").rglob("pet_*"))
    meta, main = (json.loads((p.parent / "cohort.json").read_text()) for p in (ext, cohort))
    assert meta["site"]["acquisition"]["kernel"] == "shepp-logan" != main["site"]["acquisition"]["kernel"]
    assert meta["site"]["phase"]["name"].startswith("delayed") and meta["parameters"]["site"] == "external"
    assert [c["latent"] for c in meta["cases"]] != [c["latent"] for c in main["cases"]]  # other patients
    assert read_acquisition(ext.parent / rows[0]["ct"]).kernel == "shepp-logan"
    readme = (ext.parent / "README.md").read_text()
    assert "external site" in readme and "CT only" in readme and "shepp-logan" in readme
    records = read_manifest(ext)
    assert all(not r.pets for r in records)
    assert generate_cohort(tmp_path / "ext", n_patients=3, seed=1, size=(80, 80, 40), site="external") == ext
    with pytest.raises(ValueError, match="`site` must be one of"):
        generate_cohort(tmp_path / "bad", n_patients=1, site="moon")
