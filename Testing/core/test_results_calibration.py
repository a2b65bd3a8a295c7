"""`reactkd results --calibration`: the calibration schemes compared over several runs
(benchmarks/calibration_schemes.py's JSON, written here by hand) as a section stamped from those runs, one-line
refusals, and a record regenerated from its collected copies without the runs."""

import json
import shlex
import shutil

import pytest
from record_fixtures import SCHEME_SUMMARY, make_sources, section, write_calibration_schemes

from reactkd.cli import main
from reactkd.evaluate.temperature_schemes import DEFAULT_SCHEME, SCHEMES

TITLE = "Calibration schemes (demo-cpu)"


@pytest.fixture
def sources(tmp_path):
    return make_sources(tmp_path)


def _record(tmp_path, args):
    out = tmp_path / "docs" / "results.md"
    assert main(["results", *args, "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_the_schemes_are_a_stamped_section_after_the_calibration(tmp_path, sources):
    bench = write_calibration_schemes(tmp_path / "runs" / "calibration_schemes.json",
                                      ["demo", "demo-seed1", "demo-seed2"])
    text = _record(tmp_path, [*sources, "--calibration", str(bench)])
    headings = [x[3:] for x in text.splitlines() if x.startswith("## ")]
    at = headings.index("Calibration (demo-cpu)")
    assert headings[at + 1: at + 3] == [TITLE, "Segmentation: ReCo-KD (seg-demo-cpu, `seg`)"]
    body = section(text, TITLE)
    assert "From `../runs/calibration_schemes.json`:" in body
    assert "- seeds: 0, 1, 2" in body and "- commit: `0123abc` (reactkd 0.1.0)" in body
    assert ": as shipped" in body and "stale" not in body
    assert "mean ± sample std over 3 runs" in body and "(69 cases per run)" in body
    assert "`fresh/manifest.csv` (96 cases)" in body
    assert ("| Scheme | Held-out ECE | Held-out NLL | Fresh-cohort ensemble ECE | Fresh-cohort ensemble NLL "
            "| Lowers ECE in both |") in body
    assert "| pooled | 0.070 ± 0.010 | 0.880 ± 0.020 | 0.060 ± 0.010 | 0.870 ± 0.030 | yes |" in body
    assert "| shrunk | 0.075 ± 0.012 | 0.890 ± 0.020 | 0.085 ± 0.012 | 0.905 ± 0.030 | no |" in body
    assert "| none | 0.081 ± 0.015 | 0.900 ± 0.030 | 0.080 ± 0.011 | 0.910 ± 0.035 | baseline (before) |" in body
    assert [x.split(" | ")[0][2:] for x in body.splitlines() if x.startswith("| ")][1:] == list(SCHEME_SUMMARY)
    verdict = next(x for x in body.splitlines() if x.startswith("Shipped default:"))
    assert verdict.startswith(f"Shipped default: `{DEFAULT_SCHEME}`; the rule: a scheme ships only if it lowers the "
                              f"ECE both on held-out folds and for the fold ensemble on a fresh cohort; else none")
    assert "Here `pooled` lowers ECE in both; the default " + ("is one" if DEFAULT_SCHEME == "pooled" else "is not") \
           in verdict
    assert "--calibration ../runs/calibration_schemes.json --out results.md" in text
    assert set(SCHEME_SUMMARY) == set(SCHEMES)  # the fixture is the benchmark's schemes


def test_runs_named_as_given_no_scheme_that_lowers_and_no_fresh_cohort(tmp_path, sources):
    runs = tmp_path / "runs"
    beside = write_calibration_schemes(runs / "calibration_schemes.json", ["demo", "demo-seed1", "demo-seed2"])
    elsewhere = write_calibration_schemes(tmp_path / "bench" / "c.json",
                                          [str(runs / "demo"), str(runs / "demo-seed1"), str(runs / "demo-seed2")])
    one = section(_record(tmp_path, [sources[2], "--calibration", str(beside)]), TITLE)
    other = section(_record(tmp_path, [sources[2], "--calibration", str(elsewhere)]), TITLE)
    assert other.replace("`../bench/c.json`", "`../runs/calibration_schemes.json`") == one
    data = json.loads(beside.read_text())
    for row in data["summary"].values():
        row["lowers_ece"] = False
    beside.write_text(json.dumps(data))
    body = section(_record(tmp_path, [sources[2], "--calibration", str(beside)]), TITLE)
    shipped = "as shipped" if DEFAULT_SCHEME == "none" else f"by the rule `none` ships, not `{DEFAULT_SCHEME}`"
    assert f"Here no scheme lowers ECE in both: {shipped}." in body
    data["summary"]["pooled"]["lowers_ece"] = True
    data["summary"]["pooled"]["held_out_nll"]["runs"] = 1  # one run: no spread
    data["fresh"] = None
    for row in data["summary"].values():
        del row["fresh_ece"], row["fresh_nll"]
    beside.write_text(json.dumps(data))
    body = section(_record(tmp_path, [sources[2], "--calibration", str(beside)]), TITLE)
    assert "| pooled | 0.070 ± 0.010 | 0.880 | — | — | yes (held-out only) |" in body
    assert "No fresh cohort was measured, so the rule is not judged here." in body


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file."),
    ("{not json", "not readable JSON"),
    ('{"runs": [], "summary": {}}', "not the JSON of benchmarks/calibration_schemes.py --out"),
    ('{"runs": ["gone"], "summary": {"none": {}}}', "run gone: no such folder"),
])
def test_a_bad_json_is_one_line_and_nothing_is_written(tmp_path, sources, capsys, content, message):
    bench = tmp_path / "runs" / "c.json"
    if content is not None:
        bench.write_text(content)
    out = tmp_path / "docs" / "results.md"
    assert main(["results", *sources, "--out", str(out), "--calibration", str(bench),
                 "--collect", str(tmp_path / "docs" / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"reactkd results: error: --calibration {bench}: ") and message in err[0]
    assert not out.exists() and not (tmp_path / "docs" / "runs").exists()


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_collected_copies_with_the_runs_it_names_regenerate_the_record(tmp_path, sources, monkeypatch):
    runs, docs = tmp_path / "runs", tmp_path / "docs"
    bench = write_calibration_schemes(tmp_path / "bench" / "schemes.json",
                                      ["../runs/demo", "../runs/demo-seed1", "../runs/demo-seed2"])
    direct = section(_record(tmp_path, [sources[2], "--calibration", str(bench)]), TITLE)
    copies = docs / "results" / "runs"
    text = _record(tmp_path, [sources[2], "--calibration", str(bench), "--collect", str(copies)])
    assert section(text, TITLE).replace("results/runs/schemes.json", "../bench/schemes.json") == direct
    command = text.split("## Regenerate", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert command == ("reactkd results results/runs/demo --calibration results/runs/schemes.json "
                       "--out results.md")
    copy = json.loads((copies / "schemes.json").read_text())
    assert copy["runs"] == ["demo", "demo-seed1", "demo-seed2"] and list(copy["per_run"]) == copy["runs"]
    assert copy["summary"] == json.loads(bench.read_text())["summary"] and copy["fresh"] == "../fresh/manifest.csv"
    files = _files(copies)
    assert {"demo-seed1/run.json", "demo-seed2/config.yaml", "demo-seed2/cohort/cohort.json"} <= set(files)
    shutil.rmtree(runs)
    shutil.rmtree(tmp_path / "bench")
    monkeypatch.chdir(docs)
    assert main(shlex.split(command)[1:]) == 0
    assert (docs / "results.md").read_text(encoding="utf-8") == text
    assert main([*shlex.split(command)[1:], "--collect", "results/runs"]) == 0  # collecting the copies again
    assert (docs / "results.md").read_text(encoding="utf-8") == text and _files(copies) == files
