"""Training-set against held-out AUC of each fold's teacher and student: the prediction files, the table and
its place in the run report, on a tiny trained run."""

from __future__ import annotations

import csv
import shutil

import pytest

from conftest import tiny_experiment
from reactkd.cli import main
from reactkd.cohort import read_folds
from reactkd.config.identity import teacher_key
from reactkd.config.run_dir import read_run_config
from reactkd.evaluate.predictions import read_predictions
from reactkd.evaluate.tables import Table
from reactkd.experiments.cross_validation import run_experiment
from reactkd.inference.fit_gap import FIT_GAP_COLUMNS, fit_gap_predictions, fit_gap_table
from reactkd.report.run_report import FIT_GAP_TEXT, fit_gap_section, fit_gap_verdict
from reactkd.train.data import load_records


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_cohort):
    run = tmp_path_factory.mktemp("fitgap") / "run"
    run_experiment(tiny_experiment(tiny_cohort), run, log=lambda *_: None)
    return run


@pytest.fixture(scope="module")
def predicted_run(tiny_run):
    """The tiny run with its training-set predictions (the files of every fold's teacher and student)."""
    fit_gap_predictions(tiny_run, log=lambda *_: None)
    return tiny_run


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_training_set_files_hold_every_case_outside_the_test_fold(predicted_run):
    run = predicted_run
    ids = {r.case_id for r in load_records(read_run_config(run), run)}
    for k, test in enumerate(read_folds(run / "folds.json")):
        expected = ids - set(test)
        for name, held_out in (("teacher_train_predictions.csv", "teacher_predictions.csv"),
                               ("train_predictions.csv", "predictions.csv")):
            table = read_predictions(run / f"fold{k}" / name)  # the held-out files' contract
            assert set(table.case_id) == expected and len(table) == len(expected), (k, name)
            assert set(table.fold) == {k}
            assert list(table.extra) == list(read_predictions(run / f"fold{k}" / held_out).extra)


def test_table_has_a_row_per_fold_and_the_mean_with_aucs_in_range(predicted_run, tmp_path):
    run = predicted_run
    folds = read_folds(run / "folds.json")
    n_cases = len(load_records(read_run_config(run), run))
    rows = _rows(fit_gap_table(run).to_csv(tmp_path / "fit_gap.csv"))
    assert tuple(rows[0]) == FIT_GAP_COLUMNS
    assert [r[0] for r in rows[1:]] == [f"fold {k}" for k in range(len(folds))] + ["mean ± std"]
    for k, row in enumerate(rows[1:-1]):
        aucs = [float(x) for x in row[1:5]]
        assert all(0.0 <= a <= 1.0 for a in aucs), row
        assert int(row[6]) == len(folds[k]) and int(row[5]) == n_cases - len(folds[k]), row
    mean = rows[-1]
    for column in range(1, 5):
        per_fold = [float(r[column]) for r in rows[1:-1]]
        assert float(mean[column].split(" ± ")[0]) == pytest.approx(sum(per_fold) / len(per_fold), abs=1e-3)


def test_rerunning_predicts_nothing_and_leaves_the_files_untouched(predicted_run):
    files = sorted(predicted_run.glob("fold*/*train_predictions.csv"))
    assert len(files) == 2 * len(read_folds(predicted_run / "folds.json"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    assert fit_gap_predictions(predicted_run, log=lambda *_: None) == []
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


def test_the_models_run_on_the_runtime_asked_for(predicted_run, tmp_path, monkeypatch):
    import reactkd.inference.fit_gap as fit_gap
    from reactkd.train.predict import predict_loader

    seen = []

    def record(model, loader, runtime, *args, **kwargs):
        seen.append((type(model).__name__, runtime.device.type, runtime.precision.value))
        return predict_loader(model, loader, runtime, *args, **kwargs)

    monkeypatch.setattr(fit_gap, "predict_loader", record)
    run = shutil.copytree(predicted_run, tmp_path / "run")
    written = fit_gap_predictions(run, force=True, log=lambda *_: None, device="cpu", precision="bf16")
    n_folds = len(read_folds(run / "folds.json"))
    assert len(written) == 2 * n_folds and set(seen) == {("Teacher", "cpu", "bf16"), ("Student", "cpu", "bf16")}


def test_a_compare_row_reads_its_teachers_from_the_shared_store(predicted_run, tmp_path):
    run = shutil.copytree(predicted_run, tmp_path / "experiment" / "runs" / "seed0" / "row")
    store = tmp_path / "experiment" / "teachers" / teacher_key(read_run_config(run))
    for k in range(len(read_folds(run / "folds.json"))):
        (store / f"fold{k}").mkdir(parents=True)
        shutil.move(run / f"fold{k}" / "teacher", store / f"fold{k}" / "teacher")
        (run / f"fold{k}" / "teacher_train_predictions.csv").unlink()
    written = fit_gap_predictions(run, log=lambda *_: None)
    assert sorted(p.name for p in written) == ["teacher_train_predictions.csv"] * len(written) and written
    for path in written:
        ours, reference = read_predictions(path), read_predictions(predicted_run / path.parent.name / path.name)
        assert list(ours.case_id) == list(reference.case_id)
        assert ours.probs == pytest.approx(reference.probs, abs=1e-6)


def test_a_missing_teacher_checkpoint_is_one_line_naming_it_and_writes_nothing(tiny_run, tmp_path):
    run = shutil.copytree(tiny_run, tmp_path / "run")
    for path in run.glob("fold*/*train_predictions.csv"):
        path.unlink()
    ckpt = run / "fold1" / "teacher" / "best.pt"
    ckpt.unlink()
    with pytest.raises(FileNotFoundError) as err:
        fit_gap_predictions(run, log=lambda *_: None)
    message = str(err.value)
    assert "\n" not in message and str(ckpt) in message
    assert not list(run.glob("fold*/*train_predictions.csv"))  # refused before any fold was predicted
    out = tmp_path / "report"
    out.mkdir()
    (out / "fit_gap.csv").write_text("an earlier table\n")
    section = fit_gap_section(run, out)  # the report says why instead of failing
    assert any(line.startswith("Not computed:") and str(ckpt) in line for line in section)
    assert not (out / "fit_gap.csv").exists()  # no table left from an earlier state of the run


def test_the_run_report_shows_the_table(predicted_run, tmp_path, capsys):
    run = shutil.copytree(predicted_run, tmp_path / "run")
    (run / "fold0" / "train_predictions.csv").unlink()  # computed on demand by the report
    assert main(["evaluate", "--run", str(run)]) == 0  # the report, as `reactkd demo` writes it too
    index = run / "report" / "index.md"
    rows = _rows(run / "report" / "fit_gap.csv")
    assert tuple(rows[0]) == FIT_GAP_COLUMNS and len(rows) == 1 + len(read_folds(run / "folds.json")) + 1
    assert (run / "fold0" / "train_predictions.csv").is_file()
    text = index.read_text()
    assert "| Teacher training-set AUC |" in text and FIT_GAP_TEXT in text
    assert ">Student held-out AUC</th>" in (run / "report" / "index.html").read_text()


def test_the_verdict_says_whether_the_teachers_are_as_good_held_out_and_why_not():
    def table(teacher_train, teacher_held, student_held):
        return Table(FIT_GAP_COLUMNS, (("mean ± std", teacher_train, teacher_held, "0.900 ± 0.010", student_held,
                                        "46.0 ± 0.0", "23.0 ± 0.0"),))

    weaker = fit_gap_verdict(table("0.907 ± 0.070", "0.735 ± 0.090", "0.824 ± 0.020"))
    assert "weaker than the students (0.824)" in weaker and "(0.907)" in weaker and "memorising" in weaker
    assert "at least as good" in fit_gap_verdict(table("0.900 ± 0.010", "0.850 ± 0.010", "0.824 ± 0.020"))
    assert "not defined" in fit_gap_verdict(table("n/a", "n/a", "0.824 ± 0.020"))
