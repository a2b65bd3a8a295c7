"""`reactkd results`: the results record from run and suite folders, written here directly (no network is
trained): stamped sections, stale configs, one-line refusals, byte-for-byte re-runs and the claims' verdicts."""

import hashlib
import json
import shutil

import pytest
import yaml
from record_fixtures import HEADER, make_run, make_sources, metrics, record_text, section, write_csv, write_tables

from reactkd.cli import main
from reactkd.config import load_config
from reactkd.config.provenance import UNKNOWN, cpu_model, source_commit
from reactkd.config.run_dir import SEGMENTATION, prepare_run_dir, read_run_info
from reactkd.config.shipped import CONFIG_DIR
from reactkd.experiments.conditions import DOSE_CONDITIONS, MODALITY_CONDITIONS
from reactkd.experiments.variants import COMPARE_METHODS, ablation_name
from reactkd.phantom.cohort import GENERATOR
from reactkd.report import record_claims as claims
from reactkd.report.record import build_record
from reactkd.report.record_stamp import ShippedConfigs, config_text
from reactkd.segment.config import load_seg_config, seg_config_identity


@pytest.fixture
def sources(tmp_path):
    """Every kind of folder the record reads, under tmp/runs; the record goes to tmp/docs/results.md."""
    return make_sources(tmp_path)


def test_every_table_is_a_stamped_section(tmp_path, sources):
    out = tmp_path / "docs" / "results.md"
    assert main(["results", *sources, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["The paper's claims", "Table I — distillers (demo-cpu)",
                        "Table II — ablation: dose teacher × RGD × CBAM3D (demo-cpu)",
                        "Cross-validated students and teachers (demo-cpu)",
                        "Table III — missing modality (demo-cpu) · `demo`",
                        "Table III — missing modality (demo-cpu) · `pooled`",
                        "Table IV — CT dose (demo-cpu) · `demo`", "Table IV — CT dose (demo-cpu) · `pooled`",
                        "Cohort `external` (demo-cpu)", "Cohort `external`: CT dose (demo-cpu)",
                        "Calibration (demo-cpu)", "Segmentation: ReCo-KD (seg-demo-cpu, `seg`)", "Regenerate"]
    assert "— **stale**" not in text and "Stale:" not in text
    shipped_hash = hashlib.sha256((tmp_path / "runs" / "demo" / "config.yaml").read_bytes()).hexdigest()
    for heading in headings[1:-1]:
        stamp = section(text, heading)
        assert "- commit: `0123abc` (reactkd 0.1.0)" in stamp and "- machine: Test CPU, 2 torch thread(s)" in stamp
        assert "- date: 2026-12-01 (recorded in run.json)" in stamp and ": as shipped" in stamp, heading
        assert f"- cohort: {GENERATOR} version 2 (main site, 60 patients, seed 0)" in stamp
    assert f"`demo-cpu` sha256 `{shipped_hash}`: as shipped" in section(text, headings[3])
    assert "- seeds: 0, 1" in section(text, headings[1]) and "- seeds: 1, 2" in section(text, headings[5])
    assert "From `../runs/pooled`:" in section(text, headings[5])
    assert "| teacher | 653699 | 3.412 | 0.946 | 0.344 | 6 |" in text  # raw numbers to 3 decimals, counts kept
    assert "| pooled |  | 69 | 0.081 | 0.109 |" in text
    assert "reactkd results ../runs/compare ../runs/ablate ../runs/demo ../runs/pooled=../runs/demo-seed1," in text


def test_a_changed_shipped_config_marks_the_section_stale(tmp_path, sources):
    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    shipped = yaml.safe_load((configs / "demo-cpu.yaml").read_text())
    shipped["stage2"]["epochs"] += 1
    (configs / "demo-cpu.yaml").write_text(yaml.safe_dump(shipped))
    text = record_text(tmp_path, sources, shipped=ShippedConfigs(configs, {SEGMENTATION: load_seg_config}))
    table1 = section(text, "Table I — distillers (demo-cpu) — **stale**")
    assert table1.lstrip().startswith("**Stale:** the config these figures were measured with is not the shipped one "
                                      "of its name: `demo-cpu` differs in `stage2.epochs`.")
    assert ": **stale**" in table1
    assert "## Segmentation: ReCo-KD (seg-demo-cpu, `seg`)\n" in text  # its config is unchanged
    assert "(**stale**)" in section(text, "The paper's claims")


def test_a_run_with_an_overridden_value_is_stale_naming_the_key(tmp_path):
    run = make_run(tmp_path / "run")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["stage1"]["epochs"] = 2
    (run / "config.yaml").write_text(config_text(config))
    write_csv(run / "report" / "summary.csv", ["Method", *HEADER], [["student", *metrics("0.7")]])
    text = record_text(tmp_path, [str(run)])
    assert "## Cross-validated students and teachers (demo-cpu) — **stale**" in text
    assert "differs in `stage1.epochs`" in text


def test_a_folder_of_no_known_kind_is_one_line_and_nothing_is_written(tmp_path, sources, capsys):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "notes.txt").write_text("x")
    out = tmp_path / "docs" / "results.md"
    assert main(["results", sources[0], str(odd), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"reactkd results: error: {odd}: not a folder `reactkd results` knows")
    assert not out.exists()
    pooled = sources[3].split("=")[0]
    assert main(["results", pooled, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a pooled table folder that does not record its runs" in err[0] and pooled in err[0]
    assert main(["results", str(tmp_path / "gone"), "--out", str(out)]) == 2
    assert f"{tmp_path / 'gone'}: no such folder." in capsys.readouterr().err and not out.exists()


def test_re_running_reproduces_the_file_byte_for_byte(tmp_path, sources, monkeypatch):
    out = tmp_path / "docs" / "results.md"
    assert main(["results", *sources, "--out", str(out)]) == 0
    first = out.read_bytes()
    for p in (tmp_path / "runs").rglob("*"):
        p.touch()  # file dates do not enter a record whose runs record their date
    monkeypatch.chdir(tmp_path / "runs")
    assert main(["results", *sources, "--out", str(out)]) == 0
    assert out.read_bytes() == first


def test_a_run_without_its_record_says_so(tmp_path):
    run = make_run(tmp_path / "old", provenance=False)
    write_csv(run / "report" / "summary.csv", ["Method", *HEADER], [["student", *metrics("0.7")]])
    text = record_text(tmp_path, [str(run)])
    assert "- commit: not recorded (reactkd 0.1.0)" in text and "- machine: not recorded" in text
    assert "(file dates of run.json: the run records no date)" in text


def _verdicts(text):
    rows = section(text, "The paper's claims").split("\n| ")[2:]
    return {r.split(" | ")[0]: r.split(" | ")[-1].rstrip(" |\n").split(" |")[0] for r in rows}


def test_the_claims_verdicts_follow_the_rule(tmp_path, sources):
    verdicts = _verdicts(record_text(tmp_path, sources))
    assert verdicts["REACT-KD's student beats the other distillers (Table I)"] == "supported"  # KD: Δ < 0, p 0.004
    # the student alone is above the distilled one (Δ > 0): not supported
    distillation = "Distillation lifts the student above the same student on labels alone (Table I)"
    assert verdicts[distillation] == "not supported"
    assert verdicts["CBAM3D helps (Table II)"] == "supported"  # Δ −0.184, p 0.012
    assert verdicts["Region Graph Distillation (RGD) helps (Table II)"] == "not supported"  # p 0.055 ≥ 0.05
    assert verdicts["The dose-aware teacher helps (Table II)"] == "not supported"  # Δ > 0
    rows = claims.claim_rows([], str)
    assert {r.verdict for r in rows} == {"not measured"} and len(rows) == 8


def test_robustness_verdicts_need_a_student_that_reads_the_ct(tmp_path, sources):
    good = tmp_path / "runs" / "good"
    write_tables(good, ct_only="0.770 ± 0.050")
    text = record_text(tmp_path, [*sources, f"{good}={tmp_path / 'runs' / 'demo-seed1'}"])
    table = section(text, "The paper's claims")
    lines = [line for line in table.splitlines() if line.startswith("| Robust to") and "cohort `" not in line]
    by_source = {(line.split("`../runs/")[1].split("`")[0], line.split(" | ")[0][2:15]): line for line in lines}
    # good: CT only 0.770 ± 0.050, 0.030 below PET + CT and off chance
    assert by_source["good", "Robust to a m"].endswith("| supported |")
    # demo: CT only 0.700 ± 0.050 (off chance), 0.100 below PET + CT: the missing modality costs too much
    assert by_source["demo", "Robust to a m"].endswith("| not supported |")
    # demo: severe dose costs 0.020 and the student reads the CT
    assert by_source["demo", "Robust to dos"].endswith("| supported |")
    # pooled: severe dose costs 0.010, but CT only is at chance (0.510 ± 0.084): not supported
    assert by_source["pooled", "Robust to dos"].endswith("| not supported |")
    external, = (line for line in table.splitlines() if "external CT-only site" in line)  # once per run and cohort
    assert "0.640 ± 0.030" in external and external.endswith("| not supported |")  # 0.060 below internal CT only
    # the CT-only cohort's own Table IV (the paper's): severe = native = 0.640, off chance, so dose costs nothing
    ext_dose, = (line for line in table.splitlines()
                 if line.startswith("| Robust to dose") and "cohort `external`" in line)
    assert "0.640 ± 0.030 vs 0.640 ± 0.030" in ext_dose and "liver noise 12.0 → 12.0 HU" in ext_dose
    assert ext_dose.endswith("| supported |")


def test_the_ceiling_bounds_the_distillation_claim(tmp_path, sources):
    ceiling = tmp_path / "ceiling.json"
    rows = [{"patients": n, "label_noise": e, "teacher": "in-sample", "lambda": 1, "temperature": 2,
             "gain_mean": g, "gain_std": 0.004} for n, e, g in ((40, 0.0, 0.007), (40, 0.3, 0.013), (200, 0.0, 0.001))]
    ceiling.write_text(json.dumps({"benchmark": "privileged_ceiling", "rows": rows}))
    text = record_text(tmp_path, sources, ceiling_path=ceiling)
    line = next(x for x in text.splitlines() if x.startswith("| Distillation lifts"))
    assert "privileged-information ceiling at 40 training patients: +0.007 ± 0.004 AUC" in line  # 60 × 2/3 = 40
    assert "--ceiling ../ceiling.json --out results.md" in text
    ceiling.write_text("{}")
    with pytest.raises(ValueError, match="not the JSON of benchmarks/privileged_ceiling.py"):
        build_record(sources, tmp_path / "r.md", claims.read_ceiling(ceiling))


def test_row_names_match_the_commands_that_write_them():
    assert claims.ALONE == list(COMPARE_METHODS)[-1] and claims.REFERENCE == list(COMPARE_METHODS)[0]
    assert set(claims.COMPONENTS.values()) == {ablation_name(False, True, True), ablation_name(True, False, True),
                                               ablation_name(True, True, False)}
    assert (claims.PET_CT, claims.CT_ONLY) == (MODALITY_CONDITIONS[0][0], MODALITY_CONDITIONS[2][0])
    assert (claims.NATIVE, claims.SEVERE) == (DOSE_CONDITIONS[0][0], DOSE_CONDITIONS[2][0])


def test_a_new_run_folder_records_commit_date_and_machine(tmp_path):
    prepare_run_dir(load_config(CONFIG_DIR / "demo-cpu.yaml"), tmp_path / "run")
    info = read_run_info(tmp_path / "run")
    assert info["created"].endswith("Z") and len(info["created"]) == 20
    assert info["machine"]["threads"] >= 1 and info["machine"]["cpu"]
    assert info["commit"] == source_commit()
    assert source_commit(tmp_path) == UNKNOWN  # not a git checkout
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nmodel name\t: Test  CPU @ 2.0GHz\n")
    assert cpu_model(tmp_path / "cpuinfo") == "Test CPU @ 2.0GHz"
    text = record_text(tmp_path, [str(_with_summary(tmp_path / "run"))])
    assert f"- commit: `{info['commit']}`" in text and ": as shipped" in text
    seg = tmp_path / "seg"
    prepare_run_dir(load_seg_config(CONFIG_DIR / "seg-demo-cpu.yaml"), seg, seg_config_identity, SEGMENTATION)
    write_csv(seg / "evaluation.csv", ["model", "dice_liver"], [["student", "0.9"]])
    out = tmp_path / "seg.md"
    assert main(["results", str(seg), "--out", str(out)]) == 0
    assert "`seg-demo-cpu` sha256" in out.read_text() and ": as shipped" in out.read_text()


def _with_summary(run):
    write_csv(run / "report" / "summary.csv", ["Method", *HEADER], [["student", *metrics("0.7")]])
    return run


def test_a_pooled_folder_may_list_its_runs_in_sources_json(tmp_path, sources):
    pooled = tmp_path / "runs" / "pooled"
    (pooled / "sources.json").write_text(json.dumps({"runs": ["../demo-seed1", "../demo-seed2"]}))
    with_file = record_text(tmp_path, [str(pooled)])
    named = build_record([sources[3]], tmp_path / "docs" / "results.md")
    assert section(with_file, "Table III — missing modality (demo-cpu)") == section(named, "Table III — missing "
                                                                                             "modality (demo-cpu)")
    assert "- seeds: 1, 2" in with_file
    (pooled / "sources.json").write_text("[]")
    with pytest.raises(ValueError, match=r"sources.json: must be JSON \{\"runs\": \[run folders\]\}"):
        build_record([str(pooled)], tmp_path / "r.md")
