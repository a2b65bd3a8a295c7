"""Named dose levels, fraction parsing and the mixed-cohort assignment (reactkd.dose.levels)."""

from __future__ import annotations

import math

import pytest

from reactkd.dose import MIXED_SHARE, DoseLevel, assign_mixed_cohort, dose_tag, resolve_dose


@pytest.mark.parametrize(
    ("dose", "expected"),
    [
        (DoseLevel.NATIVE, 1.0),
        (DoseLevel.MILD, 0.5),
        (DoseLevel.SEVERE, 0.25),
        ("mild", 0.5),
        (" Severe ", 0.25),
        ("0.3", 0.3),
        (0.1924, 0.1924),  # Zeng et al.'s 17 vs 100 mAs example
        (1, 1.0),
    ],
)
def test_resolve_dose(dose, expected):
    assert resolve_dose(dose) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("dose", "error", "fragment"),
    [
        (0.0, ValueError, r"must be in \(0, 1\].*got 0.0"),
        (-0.2, ValueError, r"must be in \(0, 1\].*got -0.2"),
        (1.5, ValueError, r"must be in \(0, 1\].*got 1.5"),
        ("1.01", ValueError, r"got '1.01'"),
        (math.nan, ValueError, r"must be in \(0, 1\]"),
        ("extreme", ValueError, r"one of 'native', 'mild', 'severe'.*got 'extreme'"),
        (True, TypeError, r"got bool"),
        (None, TypeError, r"got NoneType"),
    ],
)
def test_resolve_dose_refuses(dose, error, fragment):
    with pytest.raises(error, match=fragment):
        resolve_dose(dose)


def test_dose_tag_names_levels_and_fractions():
    assert dose_tag("severe") == dose_tag(0.25) == "severe"
    assert dose_tag(0.3) == "dose0.3"


def test_mixed_cohort_share_split_and_determinism():
    ids = [f"case{i:03d}" for i in range(40)]
    plan = assign_mixed_cohort(ids, seed=7)
    counts = {level: sum(v is level for v in plan.values()) for level in DoseLevel}
    assert MIXED_SHARE == 0.5
    assert counts == {DoseLevel.NATIVE: 20, DoseLevel.MILD: 10, DoseLevel.SEVERE: 10}
    assert assign_mixed_cohort(list(reversed(ids)), seed=7) == plan  # order does not matter
    other = assign_mixed_cohort(ids, seed=8)
    assert other != plan and sum(v is DoseLevel.NATIVE for v in other.values()) == 20


def test_mixed_cohort_custom_share_and_levels():
    plan = assign_mixed_cohort(["a", "b", "c", "d", "e"], seed=0, share=0.4, levels=["severe"])
    assert sorted(v.value for v in plan.values()) == ["native"] * 3 + ["severe"] * 2
    assert set(assign_mixed_cohort(["a", "b"], seed=0, share=0.0).values()) == {DoseLevel.NATIVE}


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"case_ids": ["a", "a"], "seed": 0}, ValueError, r"unique.*\['a'\]"),
        ({"case_ids": ["a"], "seed": 0, "share": 1.2}, ValueError, r"`share` must be in \[0, 1\], got 1.2"),
        ({"case_ids": ["a"], "seed": "0"}, TypeError, r"`seed` must be an int, got str"),
        ({"case_ids": ["a"], "seed": 0, "levels": ["awful"]}, ValueError, r"awful"),
        ({"case_ids": ["a"], "seed": 0, "levels": []}, ValueError, r"at least one"),
    ],
)
def test_mixed_cohort_refuses(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        assign_mixed_cohort(**kwargs)
