"""``data.unlabelled_manifest`` in a tiny run: the teacher learns from unlabelled CT through its dose branch
(the consistency term is logged every epoch), the run resumes exactly after a crash, the graded part is
untouched when the term has no weight, and bad set-ups are refused before any training."""

import csv

import pytest

from conftest import crash_at_last_checkpoint, tiny_experiment
from reactkd.config import ConfigError
from reactkd.experiments.cross_validation import run_experiment
from reactkd.phantom.cohort import generate_cohort
from reactkd.train.unlabelled import read_unlabelled

pytestmark = pytest.mark.slow


def _without_grades(manifest, out):
    rows = list(csv.DictReader(open(manifest, newline="")))
    for r in rows:
        r["grade"] = ""
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory):
    """Three CT-only patients of the external site (case ids like the graded cohort's), grades removed."""
    root = tmp_path_factory.mktemp("unlabelled") / "u"
    manifest = generate_cohort(root, n_patients=3, seed=11, size=(48, 48, 32), site="external")
    return _without_grades(manifest, root / "unlabelled.csv")


def _config(cohort, unlabelled=None, epochs1=1, **consistency):
    data = {"manifest": str(cohort), "folds": 2, "preprocess": {"grid_size": 32}, "augment": True}
    if unlabelled is not None:
        data["unlabelled_manifest"] = str(unlabelled)
    stage1 = {"epochs": epochs1, "batch_size": 4, "dose_consistency": {"level": 1, **consistency}}
    return tiny_experiment(cohort, data=data, stage1=stage1)


def _rows(path):
    return list(csv.DictReader(open(path, newline="")))


def _without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_teacher_learns_from_unlabelled_ct_and_resumes_exactly(tmp_path, tiny_cohort, unlabelled, monkeypatch):
    config = _config(tiny_cohort, unlabelled, epochs1=2)
    straight = run_experiment(config, tmp_path / "straight", log=lambda *_: None)
    for k in (0, 1):
        rows = _rows(straight / f"fold{k}" / "teacher" / "metrics.csv")
        assert len(rows) == 2
        for row in rows:  # logged every epoch, positive, and part of the total
            assert 0 < float(row["train_loss_dose_consistency"]) < 6
            assert float(row["train_loss"]) == pytest.approx(
                float(row["train_loss_task"]) + float(row["train_loss_dose_consistency"]), abs=2e-4)
        assert "train_loss_dose_consistency" not in _rows(straight / f"fold{k}" / "student" / "metrics.csv")[0]
        assert (straight / f"fold{k}" / "predictions.csv").is_file()

    restore = crash_at_last_checkpoint(monkeypatch, 2)  # killed while finishing the teacher's 2nd epoch
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, tmp_path / "resumed", log=lambda *_: None)
    restore()
    resumed = run_experiment(config, tmp_path / "resumed", log=lambda *_: None)
    for k in (0, 1):
        for stage in ("teacher", "student"):
            assert _without_seconds(_rows(resumed / f"fold{k}" / stage / "metrics.csv")) == \
                _without_seconds(_rows(straight / f"fold{k}" / stage / "metrics.csv")), (k, stage)
        for name in ("teacher_predictions.csv", "predictions.csv"):
            assert (resumed / f"fold{k}" / name).read_text() == (straight / f"fold{k}" / name).read_text()


def test_graded_training_is_untouched_when_the_term_has_no_weight(tmp_path, tiny_cohort, unlabelled):
    """The unlabelled loader draws from streams of its own: with weight 0 the teachers and students are the
    plain run's, to the last digit."""
    plain = run_experiment(_config(tiny_cohort), tmp_path / "plain", log=lambda *_: None)
    idle = run_experiment(_config(tiny_cohort, unlabelled, weight=0.0), tmp_path / "idle", log=lambda *_: None)
    for k in (0, 1):
        for name in ("teacher_predictions.csv", "predictions.csv"):
            assert (idle / f"fold{k}" / name).read_text() == (plain / f"fold{k}" / name).read_text()
        assert "train_loss_dose_consistency" not in _rows(idle / f"fold{k}" / "teacher" / "metrics.csv")[0]


def test_a_teacher_without_the_dose_branch_is_refused(tiny_cohort, unlabelled):
    with pytest.raises(ConfigError, match="dose-aware branch.*add `dose`"):
        tiny_experiment(tiny_cohort, data={"manifest": str(tiny_cohort), "unlabelled_manifest": str(unlabelled)},
                        teacher={"feature_size": 12, "fusion_channels": 16, "window_size": 4,
                                 "depths": [1, 1, 1, 1], "branches": ["pet_ct"]})
    with pytest.raises(ConfigError, match="stage1.dose_consistency.weight"):
        _config(tiny_cohort, unlabelled, weight=-1.0)


def test_graded_cts_reused_as_unlabelled_are_refused_and_grades_ignored(tmp_path, tiny_cohort):
    from reactkd.cohort import read_manifest

    graded = read_manifest(tiny_cohort)
    leak = _without_grades(tiny_cohort, tiny_cohort.parent / "same_cts.csv")
    with pytest.raises(ValueError, match="case\\(s\\) share their CT with data.manifest"):
        read_unlabelled(_config(tiny_cohort, leak), tmp_path, graded)
    with pytest.warns(UserWarning, match="have a grade; their grades are not used"):
        cases = read_unlabelled(_config(tiny_cohort, tiny_cohort), tmp_path, [])
    assert len(cases.records) == len(graded)
    assert read_unlabelled(_config(tiny_cohort), tmp_path, graded) is None
