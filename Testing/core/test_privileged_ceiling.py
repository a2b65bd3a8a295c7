"""The privileged-information ceiling benchmark (``benchmarks/privileged_ceiling.py``): a teacher that only
repeats the labels adds nothing, a perfectly informative privileged feature denoises noisy labels, and the
command writes its documented JSON keys and table."""

import json

import numpy as np
import pytest

from conftest import benchmark_script
from reactkd.evaluate.metrics import ovr_auc
from reactkd.phantom.oracle import CT_TRAITS, PET_TRAITS


@pytest.fixture(scope="module")
def bench():
    return benchmark_script("privileged_ceiling")


def _world(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Grades and five weak CT-like features: three read the grade under unit noise, two are noise."""
    grade = rng.choice([1, 2, 3], n)
    return grade, (grade[:, None] - 2) * np.array([1.0, 0.7, 0.4, 0.0, 0.0]) + rng.normal(0, 1, (n, 5))


def test_patients_are_drawn_as_the_trait_oracle_reads_them(bench):
    p = bench.draw_patients(100, np.random.default_rng(0))
    assert p.ct.shape == (100, len(CT_TRAITS)) and p.pet_ct.shape == (100, len(CT_TRAITS) + len(PET_TRAITS))
    np.testing.assert_array_equal(p.pet_ct[:, : len(CT_TRAITS)], p.ct)
    assert np.bincount(p.grade, minlength=4)[1:].tolist() == [25, 45, 30]  # the phantom's proportions
    fdg = p.pet_ct[:, len(CT_TRAITS)]
    assert np.mean(fdg[p.grade == 3]) > np.mean(fdg[p.grade == 1])  # FDG rises with the grade


def test_label_noise_moves_the_asked_share_to_adjacent_grades_only(bench):
    grade = np.random.default_rng(1).choice([1, 2, 3], 5000)
    noisy = bench.adjacent_grade_noise(grade, 0.3, np.random.default_rng(2))
    moved = noisy != grade
    assert abs(moved.mean() - 0.3) < 0.03 and np.all(np.abs(noisy - grade)[moved] == 1)
    np.testing.assert_array_equal(bench.adjacent_grade_noise(grade, 0.0, np.random.default_rng(2)), grade)
    with pytest.raises(ValueError, match="label noise"):
        bench.adjacent_grade_noise(grade, 1.5, np.random.default_rng(2))


def test_soft_targets_mix_labels_and_the_softened_teacher(bench):
    teacher = np.array([[0.7, 0.2, 0.1], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(bench.soften(teacher, 1.0), teacher)
    hot = bench.soften(teacher, 2.0)
    assert hot[0, 0] < 0.7 and hot[1, 0] == 0 and np.allclose(hot.sum(1), 1)
    targets = bench.distillation_targets(np.array([1, 3]), teacher, 0.5, 1.0)
    np.testing.assert_allclose(targets, [[0.85, 0.1, 0.05], [0.0, 0.25, 0.75]])


def test_a_teacher_equal_to_the_labels_gains_nothing(bench):
    rng = np.random.default_rng(3)
    (grade, x), (test_grade, x_test) = _world(40, rng), _world(500, rng)
    on_labels = bench.student_probabilities(x, bench.one_hot(grade), x_test)
    for lam, temperature in [(0.5, 1.0), (1.0, 4.0)]:
        targets = bench.distillation_targets(grade, bench.one_hot(grade), lam, temperature)
        distilled = bench.student_probabilities(x, targets, x_test)
        assert ovr_auc(test_grade, distilled) == ovr_auc(test_grade, on_labels)
        np.testing.assert_allclose(distilled, on_labels)


def test_a_perfectly_informative_privileged_feature_denoises_noisy_labels(bench):
    gains = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        (grade, x), (test_grade, x_test) = _world(30, rng), _world(1000, rng)
        y = bench.adjacent_grade_noise(grade, 0.3, rng)
        teacher = bench.teacher_probabilities(bench.one_hot(grade), y, "cross-fitted", 5, seed)
        on_labels = ovr_auc(test_grade, bench.student_probabilities(x, bench.one_hot(y), x_test))
        distilled = bench.student_probabilities(x, bench.distillation_targets(y, teacher, 1.0, 1.0), x_test)
        gains.append(ovr_auc(test_grade, distilled) - on_labels)
    assert np.mean(gains) > 0.01, gains


def test_the_command_writes_its_documented_json_and_table(bench, tmp_path, capsys):
    out, table = tmp_path / "ceiling.json", tmp_path / "ceiling.md"
    argv = ["--smoke", "--sizes", "20", "30", "--out", str(out), "--markdown", str(table)]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert set(result) == {"benchmark", "config", "asymptote", "rows", "seconds"}
    assert set(result["asymptote"]) == {"patients", "ct_student_auc", "pet_ct_teacher_auc"}
    # 2 sizes x 2 label-noise levels x 2 teachers x the smoke grid's one (λ, T)
    assert len(result["rows"]) == 8 and all(set(r) == set(bench.ROW_KEYS) for r in result["rows"])
    assert {(r["patients"], r["label_noise"], r["teacher"]) for r in result["rows"]} == {
        (n, e, t) for n in (20, 30) for e in (0.0, 0.3) for t in bench.TEACHERS}
    for r in result["rows"]:
        assert r["gain_mean"] == pytest.approx(r["distilled_auc_mean"] - r["labels_auc_mean"], abs=2e-4)
    lines = table.read_text().splitlines()
    assert lines[0].startswith("| patients |") and lines[2].startswith("| 20 |") and lines[3].startswith("| 30 |")
    assert bench.main(["--smoke", "--sizes", "6"]) == 2  # under two patients per cross-fitting fold
    assert "sizes" in capsys.readouterr().err
