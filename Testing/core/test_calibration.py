"""Temperature scaling, ECE and reliability bins (reactkd.evaluate.calibration) and the training domain
checks (reactkd.inference.domain), on synthetic numbers with known answers."""

import numpy as np
import pytest
import SimpleITK as sitk

from reactkd.evaluate.calibration import (
    MAX_T,
    MIN_T,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    scaled_probabilities,
)
from reactkd.inference.domain import case_statistics, domain_warnings, training_domain
from reactkd.io.case import Case


def _sample(n=4000, true_t=2.5, seed=0):
    """Labels drawn from softmax(z / true_t): logits ``z`` over-confident by ``true_t``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, 3))
    p = scaled_probabilities(z, true_t)
    y = np.array([rng.choice(3, p=row) for row in p])
    return z, y


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels():
    z, y = _sample()
    t = fit_temperature(z, y)
    assert abs(t - 2.5) < 0.08  # measured 2.550
    assert negative_log_likelihood(z, y, t) < negative_log_likelihood(z, y)  # and it lowers the NLL
    p0, p1 = scaled_probabilities(z), scaled_probabilities(z, t)
    assert expected_calibration_error(p1, y) < expected_calibration_error(p0, y) / 3
    assert (p0.argmax(1) == p1.argmax(1)).all()  # the grade never changes


def test_fit_temperature_stays_in_range_when_every_case_is_right():
    z = np.array([[5.0, 0, 0], [0, 6.0, 0]])
    assert MIN_T <= fit_temperature(z, np.array([0, 1])) < 1  # all right → sharpened (never below MIN_T)
    assert fit_temperature(np.array([[9.0, 0, 0]]), np.array([2])) == MAX_T  # confidently wrong → flattened, clipped


def test_ece_and_bins_by_hand():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.6 (right): bins (0.5,0.6] and (0.8,0.9]
    probs = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1]])
    labels = np.array([0, 1, 0, 1])
    b = reliability_bins(probs, labels, n_bins=10)
    assert b.count.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]
    assert b.accuracy[5] == 1.0 and b.accuracy[8] == 0.5
    assert b.confidence[5] == pytest.approx(0.6) and b.confidence[8] == pytest.approx(0.9)
    # ECE = 2/4 · |1 − 0.6| + 2/4 · |0.5 − 0.9| = 0.4
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)
    assert np.isnan(b.accuracy[0])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="labels"):
        expected_calibration_error(np.full((2, 3), 1 / 3), np.array([0, 3]))
    with pytest.raises(ValueError, match="logits"):
        fit_temperature(np.zeros(3), np.zeros(3))


def _case(spacing=(0.8, 0.8, 2.0), liver_hu=60.0, pets=()):
    ct = np.full((8, 8, 8), -100.0, np.float32)
    ct[2:6, 2:6, 2:6] = liver_hu
    liver = np.zeros((8, 8, 8), np.uint8)
    liver[2:6, 2:6, 2:6] = 1
    images = [sitk.GetImageFromArray(a) for a in (ct, liver, np.zeros_like(liver))]
    for im in images:
        im.SetSpacing(spacing)
    return Case("c", "p", None, *images, pets={t: images[0] for t in pets})


def test_domain_warnings_name_what_is_outside():
    domain = training_domain([case_statistics(_case((0.7, 0.7, 1.5), 50.0, ["fdg"])),
                              case_statistics(_case((0.9, 0.9, 2.5), 80.0, ["fdg"]))])
    assert domain["spacing_mm"] == {"min": [0.7, 0.7, 1.5], "max": [0.9, 0.9, 2.5]}
    assert domain["liver_median_hu"] == {"min": 50.0, "max": 80.0} and domain["pet_share"] == {"fdg": 1.0}
    assert domain_warnings(case_statistics(_case(pets=["fdg"])), domain, ["fdg"]) == []
    assert domain_warnings(case_statistics(_case((0.8, 0.8, 2.0), 60.0, ["fdg"])), domain, []) == [
        "PET tracer(s) fdg given but not used: the model was not trained on them."]
    out = domain_warnings(case_statistics(_case((0.8, 0.8, 5.0), 200.0)), domain, ["fdg"])
    assert len(out) == 3
    assert out[0].startswith("FDG PET missing") and "100 %" in out[0]
    assert "voxel size" in out[1] and "5" in out[1]
    assert "liver median 200 HU" in out[2]
