"""`reactkd compare / ablate / robustness / dose` on tiny configs: table rows and columns, shared teachers,
resume without retraining, and identical numbers for a repeated seed on CPU."""

import csv
from dataclasses import replace

import pytest
import torch
import yaml

from conftest import tiny_experiment
from reactkd.cli import main
from reactkd.config import ConfigError, config_from_mapping, to_dict
from reactkd.config.identity import teacher_key
from reactkd.experiments import ablation_variants, compare_variants, run_suite
from reactkd.experiments.cross_validation import distiller_teachers
from reactkd.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow

COLUMNS = ["Accuracy", "Precision", "Recall", "F1", "AUC"]


def read_table(path):
    rows = list(csv.reader(open(path)))
    return rows[0], {r[0]: r[1:] for r in rows[1:]}


@pytest.fixture(scope="module")
def compared(tmp_path_factory, tiny_cohort):
    out = tmp_path_factory.mktemp("cmp") / "compare"
    return run_suite(tiny_experiment(tiny_cohort), out,
                     compare_variants(tiny_experiment(tiny_cohort), ["reactkd", "kd"]),
                     kind="compare", log=lambda *_: None)


def test_compare_table_and_shared_teachers(compared):
    header, rows = read_table(compared.table_csv)
    oracle = ["trait oracle (CT)", "trait oracle (PET)", "trait oracle (all)"]  # the phantom's reference rows
    assert header == ["Method", *COLUMNS] and list(rows) == ["REACT-KD", "KD", *oracle]
    assert all("±" in cell for cells in rows.values() for cell in cells)
    teachers = list((compared.out / "teachers").iterdir())
    assert len(teachers) == 1, "both students must reuse one set of teachers"
    assert (teachers[0] / "fold1" / "teacher" / "done.json").is_file()
    assert not (compared.out / "runs" / "seed0" / "kd" / "fold0" / "teacher").exists()
    assert ({p.name for p in compared.figures} == {"dca_high_grade.png", "dca_poorly_differentiated.png"}
            or compared.figures)
    assert "REACT-KD" in (compared.out / "index.md").read_text()
    header, paired = read_table(compared.out / "paired.csv")
    assert header[1] == "Δ AUC vs REACT-KD" and list(paired) == ["KD"] and paired["KD"][1].endswith("/2")


def test_compare_resumes_and_repeats_exactly(compared, tmp_path, tiny_cohort):
    best = compared.out / "runs" / "seed0" / "kd" / "fold0" / "student" / "best.pt"
    stamp = best.stat().st_mtime_ns
    base = tiny_experiment(tiny_cohort)
    again = run_suite(base, compared.out, compare_variants(base, ["reactkd", "kd"]), kind="compare",
                      log=lambda *_: None)
    assert best.stat().st_mtime_ns == stamp, "a finished run must not be retrained"
    assert again.table_csv.read_text() == compared.table_csv.read_text()
    # same seed in a fresh folder: the same numbers on CPU
    fresh = run_suite(base, tmp_path / "again", compare_variants(base, ["kd"]), kind="compare", log=lambda *_: None)
    one_seed = read_table(fresh.table_csv)[1]["KD"]
    assert one_seed == read_table(compared.table_csv)[1]["KD"]
    # a later seed joins the table; decision curves pool both seeds (one case, two predictions)
    both = run_suite(base, tmp_path / "again", compare_variants(base, ["kd"]), seeds=[1], kind="compare",
                     log=lambda *_: None)
    assert "2 seed(s) (seed0, seed1)" in (tmp_path / "again" / "index.md").read_text()
    assert read_table(both.table_csv)[1]["KD"] != one_seed
    assert all(p.is_file() for p in both.figures) and len(both.figures) == 2
    # a seed some row has not finished (stopped mid-seed) is left out of the table, not paired half-done
    (tmp_path / "again" / "runs" / "seed1" / "kd" / "fold0" / "predictions.csv").unlink()
    said = []
    partial = run_suite(base, tmp_path / "again", compare_variants(base, ["kd"]), seeds=[0], kind="compare",
                        log=said.append)
    assert read_table(partial.table_csv)[1]["KD"] == one_seed and any("seed 1: not every row" in s for s in said)
    with pytest.raises(ConfigError, match="different experiment"):
        run_suite(base, compared.out, compare_variants(base, ["at"]), kind="compare", log=lambda *_: None)


def test_ablation_rows_and_teacher_sets(tiny_cohort):
    base = tiny_experiment(tiny_cohort)
    variants = ablation_variants(base)
    assert len(variants) == 8 and variants[0].name == "REACT-KD (full)"
    assert variants[-1].name == "w/o dose teacher, RGD, CBAM3D"
    configs = [v.apply(base) for v in variants]
    assert len({teacher_key(c) for c in configs}) == 4, "RGD on/off shares the teacher"
    no_rgd = configs[2]  # (dose, no RGD, CBAM)
    assert [no_rgd.distiller.kwargs[w] for w in ("node_weight", "edge_weight", "gw_weight")] == [0.0] * 3
    assert configs[4].teacher.branches == ["pet_ct"] and configs[1].teacher.cbam is None is configs[1].student.cbam
    assert base.teacher.cbam is not None, "variants must not edit the base config"
    assert all(config_from_mapping(to_dict(c)) == c for c in configs), "every row is a valid config as it stands"
    with pytest.raises(ValueError, match="reactkd"):
        ablation_variants(tiny_experiment(tiny_cohort, distiller={"name": "kd", "kwargs": {}}))
    with pytest.raises(ValueError, match="unknown method"):
        compare_variants(base, ["nope"])


def test_ablate_command_writes_table_ii(tmp_path, tiny_cohort, capsys):
    import yaml

    cfg = tmp_path / "tiny.yaml"
    from reactkd.config import to_dict

    cfg.write_text(yaml.safe_dump(to_dict(tiny_experiment(tiny_cohort))))
    out = tmp_path / "ablate"
    assert main(["ablate", "--config", str(cfg), "--out", str(out)]) == 0
    header, rows = read_table(out / "table.csv")
    assert header == ["Variant", *COLUMNS] and len(rows) == 8
    assert len(list((out / "teachers").iterdir())) == 4
    assert "w/o RGD" in capsys.readouterr().out


def test_robustness_and_dose_tables(compared, capsys, tmp_path):
    run = compared.runs["REACT-KD"][0]
    assert main(["robustness", "--run", str(run)]) == 0
    header, rows = read_table(run / "tables" / "table3_missing_modality.csv")
    assert header == ["Inputs", *COLUMNS]
    assert list(rows) == ["PET + CT", "PET only (CT withheld)", "CT only (PET withheld)",
                          "trait oracle (CT)", "trait oracle (PET)", "trait oracle (all)"]
    assert main(["dose", "--run", str(run)]) == 0
    header, rows = read_table(run / "tables" / "table4_dose.csv")
    assert header == ["CT dose", *COLUMNS, "Liver noise (HU)"]
    assert list(rows) == ["native", "mild (50 % dose)", "severe (25 % dose)", "mixed"]
    # the native row of Table IV is the PET + CT row of Table III (same students, same inputs)
    assert rows["native"][: len(COLUMNS)] == read_table(run / "tables" / "table3_missing_modality.csv")[1]["PET + CT"]
    noise = {k: float(v[-1].split(" ")[0]) for k, v in rows.items()}  # measured on the acquired grid
    assert noise["native"] < noise["mild (50 % dose)"] < noise["severe (25 % dose)"]
    header, curve = read_table(run / "tables" / "table4_dose_response.csv")
    assert list(curve) == ["1", "0.5", "0.25", "0.1", "0.05"] and curve["0.25"] == rows["severe (25 % dose)"]
    assert main(["evaluate", "--run", str(run)]) == 0
    assert "table4_dose" in (run / "report" / "index.md").read_text()
    assert main(["dose", "--run", str(run.parent / "missing")]) == 2
    # several runs (the seeds of one row) pool into one table
    pooled = tmp_path / "pooled"
    assert main(["robustness", "--run", str(run), str(compared.runs["KD"][0]), "--out", str(pooled)]) == 0
    header, rows = read_table(pooled / "table3_missing_modality.csv")
    assert header == ["Inputs", *COLUMNS] and len(rows) == 6
    assert "every fold of 2 runs" in (pooled / "table3_missing_modality.md").read_text()
    assert main(["robustness", "--run", str(run), str(run)]) == 2, "several runs need --out"


def test_later_seeds_join_the_experiment(tmp_path):
    from reactkd.experiments.suite import _check_request

    request = {"kind": "compare", "base": {"seed": 0}, "rows": ["KD"]}
    assert _check_request(tmp_path / "x", request, [0]) == [0]
    assert _check_request(tmp_path / "x", request, [2, 1]) == [0, 1, 2]
    with pytest.raises(ConfigError, match="different experiment"):
        _check_request(tmp_path / "x", {**request, "rows": ["AT"]}, [0])
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        _check_request(tmp_path / "y", request, [0])
    assert (tmp_path / "y" / "notes.txt").read_text() == "mine"


def test_older_folder_and_logging_switches_stay_the_same_experiment(tmp_path):
    from reactkd.config import config_from_mapping, to_dict
    from reactkd.experiments.suite import _check_request

    base = to_dict(config_from_mapping({}))
    older = {**base, "stage1": {k: v for k, v in base["stage1"].items() if k != "tensorboard"}}
    _check_request(tmp_path / "x", {"kind": "compare", "base": older, "rows": ["KD"]}, [0])
    logged = {**base, "stage1": {**base["stage1"], "tensorboard": True}}
    assert _check_request(tmp_path / "x", {"kind": "compare", "base": logged, "rows": ["KD"]}, [1]) == [0, 1]
    assert teacher_key(config_from_mapping(logged)) == teacher_key(config_from_mapping(base))
    trained_longer = {**base, "stage1": {**base["stage1"], "epochs": base["stage1"]["epochs"] + 1}}
    assert teacher_key(config_from_mapping(trained_longer)) != teacher_key(config_from_mapping(base))
    with pytest.raises(ConfigError, match="different experiment"):
        _check_request(tmp_path / "x", {"kind": "compare", "base": trained_longer, "rows": ["KD"]}, [0])


def test_multi_teacher_methods_learn_from_modality_teachers(tmp_path, tiny_cohort):
    """MTCM-KD and AWMTKD get one PET/CT and one dose-CT teacher (their set-up), trained once and shared."""
    base = tiny_experiment(tiny_cohort)
    rows = compare_variants(base, ["mtcmkd", "awmtkd", "kd"])
    mt = rows[0].apply(base)
    assert distiller_teachers(mt) == [replace(base.teacher, branches=["pet_ct"]),
                                      replace(base.teacher, branches=["dose"])]
    assert distiller_teachers(rows[2].apply(base)) is None
    result = run_suite(base, tmp_path / "cmp", rows, kind="compare", log=lambda *_: None)
    keys = sorted(p.name for p in (tmp_path / "cmp" / "teachers").iterdir())
    assert len(keys) == 3, "fused + PET/CT + dose teachers, each trained once for both multi-teacher rows"
    branches = sorted(str(yaml.safe_load((tmp_path / "cmp" / "teachers" / k / "teacher.yaml").read_text())["teacher"]
                          .get("branches")) for k in keys)
    assert branches == ["['dose']", "['pet_ct', 'dose']", "['pet_ct']"]
    header, table = read_table(result.table_csv)
    assert list(table)[:3] == ["MTCM-KD", "AWMTKD", "KD"] and list(table)[3].startswith("trait oracle")
    weights = [load_checkpoint(tmp_path / "cmp" / "runs" / "seed0" / row / "fold0" / "student" / "best.pt")[0]["model"]
               for row in ("mtcm-kd", "awmtkd")]
    assert any(not torch.equal(weights[0][n], weights[1][n]) for n in weights[0]), \
        "with two teachers AWMTKD's per-case weighting must train a different student than MTCM-KD's uniform one"
    with pytest.raises(ConfigError, match="distiller.teachers"):
        config_from_mapping({"distiller": {"name": "mtcmkd", "teachers": []}})


def test_the_student_alone_row_drops_the_teacher_terms_of_the_base():
    base = tiny_experiment("m.csv", distiller={"name": "reactkd", "kwargs": {"kd_weight": 2.0, "temperature": 3.0,
                                                                               "focal_gamma": 1.5, "gw_weight": 0.5}})
    alone, = compare_variants(base, ["none"])
    assert alone.name == "Student alone (no teacher)"
    config = alone.apply(base)
    assert config.distiller.name == "none" and config.distiller.kwargs == {"focal_gamma": 1.5}
    kd, = compare_variants(base, ["kd"])
    assert kd.apply(base).distiller.kwargs == {"kd_weight": 2.0, "temperature": 3.0, "focal_gamma": 1.5}
