"""`reactkd results --collect`: the record written from copies of the small files it reads, which regenerate it byte
for byte without the run folders; suite rows and pooled tables over them not stale for where their cohort lives; the
fit-gap section of a run report."""

import hashlib
import json
import os
import shlex
import shutil

import pytest
import yaml
from record_fixtures import HEADER, make_run, make_sources, make_suite, metrics, section, write_csv, write_tables

from reactkd.cli import main
from reactkd.config import load_config, to_dict
from reactkd.config.shipped import CONFIG_DIR
from reactkd.report.record_collect import SLIM_KEYS
from reactkd.report.record_stamp import config_text

FIT_GAP = ["Fold", "Teacher training-set AUC", "Teacher held-out AUC", "Student training-set AUC",
           "Student held-out AUC", "Training cases", "Held-out cases"]


def _fit_gap(path, mean=True):
    rows = [["fold 0", "0.930", "0.680", "0.900", "0.800", "46", "23"],
            ["fold 1", "0.980", "0.790", "0.880", "0.850", "46", "23"]]
    write_csv(path, FIT_GAP, rows + ([["mean ± std", "0.955 ± 0.035", "0.735 ± 0.078", "0.890 ± 0.014",
                                       "0.825 ± 0.035", "46.0 ± 0.0", "23.0 ± 0.0"]] if mean else []))


def _regenerate(text, folder, monkeypatch):
    """Run the record's own "Regenerate" command from its folder."""
    command = text.split("## Regenerate", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    args = shlex.split(command)
    assert args[:2] == ["reactkd", "results"] and "--collect" not in args
    monkeypatch.chdir(folder)
    assert main(args[1:]) == 0


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_collected_copies_regenerate_the_record_without_the_runs(tmp_path, monkeypatch):
    sources = make_sources(tmp_path)
    runs, docs = tmp_path / "runs", tmp_path / "docs"
    _fit_gap(runs / "demo" / "report" / "fit_gap.csv")
    for big in ("fold0/student/last.pt", "cohort/cases/P001_a/ct.nii.gz", "cache/P001_a.npz",
                "eval/cv_native_all-inputs/summary.csv", "eval/external_native_all-inputs/fold0/predictions.csv"):
        (runs / "demo" / big).parent.mkdir(parents=True, exist_ok=True)
        (runs / "demo" / big).write_bytes(b"x" * 4096)
    cohort = json.loads((runs / "demo" / "cohort" / "cohort.json").read_text())
    cohort["cases"] = [{"case_id": "P001_a", "grade": 2, "latent": 0.05}]
    (runs / "demo" / "cohort" / "cohort.json").write_text(json.dumps(cohort))
    old = make_run(runs / "old", provenance=False)  # its date: run.json's file date, kept in the copy
    write_csv(old / "report" / "summary.csv", ["Method", *HEADER], [["student", *metrics("0.7")]])
    os.utime(old / "run.json", (1_577_923_200, 1_577_923_200))  # 2020-01-02
    ceiling = tmp_path / "ceiling.json"
    ceiling.write_text(json.dumps({"benchmark": "privileged_ceiling", "rows": [
        {"patients": 40, "label_noise": 0.0, "gain_mean": 0.007, "gain_std": 0.004}]}))
    out = docs / "results.md"
    assert main(["results", *sources, str(old), "--out", str(out)]) == 0
    direct = out.read_text(encoding="utf-8")
    assert main(["results", *sources, str(old), "--out", str(out), "--ceiling", str(ceiling),
                 "--collect", str(docs / "results" / "runs")]) == 0
    text = out.read_text(encoding="utf-8")
    assert ("reactkd results results/runs/compare results/runs/ablate results/runs/demo results/runs/pooled "
            "results/runs/seg results/runs/old --ceiling results/runs/ceiling.json --out results.md") in text
    # the same sections as from the run folders themselves, but for where they are read from and the ceiling
    ours = text.split("## Regenerate")[0].replace("results/runs/", "../runs/").splitlines()
    theirs = direct.split("## Regenerate")[0].splitlines()
    assert [x for x in ours if "Distillation lifts" not in x] == [x for x in theirs if "Distillation lifts" not in x]
    assert "2020-01-02 (file dates of run.json" in section(text, "Cross-validated students and teachers (demo-cpu) · "
                                                                 "`old`")
    copies = docs / "results" / "runs"
    files = _files(copies)
    assert not [f for f in files if f.endswith((".pt", ".nii.gz", ".npz", "predictions.csv"))]
    assert "demo/eval/cv_native_all-inputs/summary.csv" not in files
    assert "demo/tables/table4_dose_external_numeric.csv" not in files
    assert {"demo/report/fit_gap.csv", "pooled/sources.json", "pooled/pooled/demo-seed1/run.json",
            "compare/runs/seed1/react-kd/config.yaml", "compare/cohort/cohort.json", "ceiling.json"} <= set(files)
    assert sum(len(b) for b in files.values()) < 120_000
    for name, data in files.items():
        if name.endswith("cohort.json"):
            assert set(json.loads(data)) <= set(SLIM_KEYS), name  # no per-case truth
    assert not list(copies.glob(".collecting-*"))
    shutil.rmtree(runs)  # the copies alone regenerate it, whatever their file dates
    for p in copies.rglob("*"):
        p.touch()
    _regenerate(text, docs, monkeypatch)
    assert out.read_text(encoding="utf-8") == text
    # collecting the copies again changes nothing
    assert main(["results", *shlex.split(text.split("```bash\n")[1].split("\n")[0])[2:-2], "--out", "results.md",
                 "--collect", "results/runs"]) == 0
    assert out.read_text(encoding="utf-8") == text and _files(copies) == files


def test_collect_refuses_before_writing_anything(tmp_path, capsys):
    sources = make_sources(tmp_path)
    out, into = tmp_path / "docs" / "results.md", tmp_path / "docs" / "results" / "runs"
    odd = tmp_path / "odd"
    odd.mkdir()
    assert main(["results", *sources, str(odd), "--out", str(out), "--collect", str(into)]) == 2
    assert "not a folder `reactkd results` knows" in capsys.readouterr().err
    twin = make_run(tmp_path / "elsewhere" / "demo")
    write_csv(twin / "report" / "summary.csv", ["Method", *HEADER], [["student", *metrics("0.7")]])
    assert main(["results", sources[2], str(twin), "--out", str(out), "--collect", str(into)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "both would be collected into" in err[0] and "different names" in err[0]
    assert not out.exists() and not into.exists()


def _pooled_over_rows(tmp_path, ablate_row=None):
    """A pooled table folder over a row of each of two suites (so no one suite's base stamps it)."""
    runs = tmp_path / "runs"
    make_suite(runs / "compare", "compare", [("KD", ("-0.06", "0.004"))])
    make_suite(runs / "ablate", "ablate", [("w/o RGD", ("-0.06", "0.05"))])
    row = runs / "ablate" / "runs" / "seed1" / "react-kd"
    if ablate_row is not None:
        ablate_row(row)
    pooled = runs / "pooled"
    write_tables(pooled)
    (pooled / "sources.json").write_text(json.dumps({"runs": ["../compare/runs/seed0/react-kd",
                                                              "../ablate/runs/seed1/react-kd"]}))
    return pooled


def test_suite_rows_are_not_stale_for_where_their_cohort_lives(tmp_path, monkeypatch):
    pooled = _pooled_over_rows(tmp_path)
    docs = tmp_path / "docs"
    assert main(["results", str(pooled), "--out", str(docs / "results.md"), "--collect", str(docs / "runs")]) == 0
    text = (docs / "results.md").read_text(encoding="utf-8")
    assert "stale" not in text.replace("marked **stale**", "")
    table3 = section(text, "Table III — missing modality (demo-cpu)")
    assert "- seeds: 0, 1" in table3 and table3.count("sha256") == 2
    assert "as shipped (hashed with `data.manifest`, `data.cache_dir` as shipped" in table3
    shipped = config_text(to_dict(load_config(CONFIG_DIR / "demo-cpu.yaml", ["seed=0"])))
    assert f"`demo-cpu` (seed 0) sha256 `{hashlib.sha256(shipped.encode()).hexdigest()}`: as shipped" in table3
    shutil.rmtree(tmp_path / "runs")  # the rows' cohort: their slim copies
    _regenerate(text, docs, monkeypatch)
    assert (docs / "results.md").read_text(encoding="utf-8") == text


def _edit(row, change):
    config = yaml.safe_load((row / "config.yaml").read_text())
    change(config)
    (row / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.parametrize(("edit", "named", "not_named"), [
    (lambda c: c["stage2"].update(epochs=c["stage2"]["epochs"] + 1), "`stage2.epochs`", "data."),
    (lambda c: c["data"].update(phantom_patients=40), "`data.manifest`, `data.phantom_patients`", "cache_dir"),
])
def test_other_differences_of_a_suite_row_stay_stale(tmp_path, edit, named, not_named):
    pooled = _pooled_over_rows(tmp_path, lambda row: _edit(row, edit))
    out = tmp_path / "results.md"
    assert main(["results", str(pooled), "--out", str(out)]) == 0
    stale = section(out.read_text(encoding="utf-8"), "Table III — missing modality (demo-cpu) — **stale**")
    line = next(x for x in stale.splitlines() if x.startswith("**Stale:**"))
    assert "(seed 1) differs in " + named in line and not_named not in line and "(seed 0)" not in line


def test_a_manifest_of_another_cohort_is_a_setting(tmp_path):
    def other_cohort(row):
        cohort = tmp_path / "other"
        cohort.mkdir()
        (cohort / "cohort.json").write_text(json.dumps({"generator": "someone else"}))
        _edit(row, lambda c: c["data"].update(manifest=str(cohort / "manifest.csv")))
    out = tmp_path / "results.md"
    assert main(["results", str(_pooled_over_rows(tmp_path, other_cohort)), "--out", str(out)]) == 0
    assert "(seed 1) differs in `data.manifest`." in out.read_text(encoding="utf-8")


def test_the_fit_gap_is_a_section_after_the_summary_and_bounds_distillation(tmp_path):
    sources = make_sources(tmp_path)
    demo, pooled = tmp_path / "runs" / "demo", tmp_path / "runs" / "pooled"
    _fit_gap(demo / "report" / "fit_gap.csv")
    _fit_gap(pooled / "fit_gap.csv", mean=False)
    out = tmp_path / "docs" / "results.md"
    assert main(["results", *sources, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    headings = [x[3:] for x in text.splitlines() if x.startswith("## ")]
    title = "Teachers and students: training-set vs held-out AUC (demo-cpu)"
    at = headings.index("Cross-validated students and teachers (demo-cpu)")
    assert headings[at + 1: at + 3] == [f"{title} · `demo`", f"{title} · `pooled`"]
    assert "| fold 1 | 0.980 | 0.790 | 0.880 | 0.850 | 46 | 23 |" in section(text, f"{title} · `demo`")
    line = next(x for x in text.splitlines() if x.startswith("| Distillation lifts"))
    assert ("teachers held out 0.735 ± 0.078 vs students 0.825 ± 0.035 (teachers' training-set 0.955 ± 0.035): "
            "`../runs/demo`") in line
    assert "teachers held out 0.735 ± 0.078 vs students 0.825 ± 0.035 (teachers' training-set 0.955 ± 0.035): " \
           "`../runs/pooled`" in line  # the pooled one without a mean row: its folds' mean and sample std


def test_the_fit_gap_columns_are_the_run_reports():
    fit_gap = pytest.importorskip("reactkd.inference.fit_gap")
    assert tuple(FIT_GAP) == fit_gap.FIT_GAP_COLUMNS
