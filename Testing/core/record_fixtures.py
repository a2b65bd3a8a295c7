"""Folders the results record reads, written here directly as the commands leave them (no network is trained):
run folders, compare/ablate suites, pooled table folders and a segmentation run, each with its tables."""

import csv
import json
import shutil

import yaml

from reactkd.config import load_config, to_dict
from reactkd.config.run_dir import SEGMENTATION
from reactkd.config.shipped import CONFIG_DIR
from reactkd.experiments.conditions import DOSE_CONDITIONS, MODALITY_CONDITIONS
from reactkd.experiments.variants import COMPARE_METHODS, ablation_name
from reactkd.phantom.cohort import GENERATOR
from reactkd.report.record import write_record
from reactkd.report.record_stamp import config_text
from reactkd.segment.config import load_seg_config
from reactkd.utils.formats import RUN_FORMAT

HEADER = ["Accuracy", "Precision", "Recall", "F1", "AUC"]
PROVENANCE = {"commit": "0123abc", "created": "2026-12-01T10:00:00Z", "machine": {"cpu": "Test CPU", "threads": 2}}


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])


def metrics(auc):
    return ["0.600 ± 0.100"] * 4 + [auc]


def write_cohort(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cohort.json").write_text(json.dumps({"generator": GENERATOR, "generator_version": "2", "parameters": {
        "n_patients": 60, "seed": 0, "size": [96, 96, 64], "site": "main"}, "cases": []}))


def make_run(folder, config_name="demo-cpu", seed=0, kind="grading", provenance=True, config_dir=CONFIG_DIR):
    """A run folder as training leaves it: run.json and the shipped config resolved with the run's seed."""
    folder.mkdir(parents=True)
    load = load_seg_config if kind == SEGMENTATION else load_config
    config = to_dict(load(config_dir / f"{config_name}.yaml", [f"seed={seed}"]))
    (folder / "run.json").write_text(json.dumps({"format": RUN_FORMAT, "kind": kind, "reactkd_version": "0.1.0",
                                                 **(PROVENANCE if provenance else {})}))
    (folder / "config.yaml").write_text(config_text(config))
    write_cohort(folder / "cohort")
    return folder


def make_suite(folder, kind, paired, seeds=(0, 1)):
    """A compare/ablate folder: suite.yaml, table.csv, paired.csv, its cohort and one run folder per seed."""
    rows = [r for r, _ in paired]
    reference = "REACT-KD" if kind == "compare" else ablation_name(True, True, True)
    base = to_dict(load_config(CONFIG_DIR / "demo-cpu.yaml"))
    folder.mkdir(parents=True)
    (folder / "suite.yaml").write_text(yaml.safe_dump({"kind": kind, "base": base, "rows": [reference, *rows],
                                                       "seeds": list(seeds)}, sort_keys=False))
    table = [[reference, *metrics("0.800 ± 0.050")]] + [[r, *metrics("0.700 ± 0.080")] for r in rows]
    if kind == "compare":
        table += [["trait oracle (CT)", *metrics("0.725 ± 0.049")], ["trait oracle (all)", *metrics("0.842 ± 0.037")]]
    write_csv(folder / "table.csv", [("Method" if kind == "compare" else "Variant"), *HEADER], table)
    write_csv(folder / "paired.csv",
              ["Method", f"Δ AUC vs {reference}", f"folds higher than {reference}", "Wilcoxon p"],
              [[r, delta, "1/9", p] for r, (delta, p) in paired])
    write_cohort(folder / "cohort")
    for s in seeds:
        suite_row(make_run(folder / "runs" / f"seed{s}" / "react-kd", seed=s), folder)
    return folder


def suite_row(run, suite):
    """A run folder made a row of ``suite`` as `reactkd compare`/`ablate` write them: trained on the suite's
    cohort (``data.manifest``), caching beside it (``data.cache_dir``), no cohort of its own."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"].update(manifest=str(suite / "cohort" / "manifest.csv"), cache_dir=str(suite))
    (run / "config.yaml").write_text(config_text(config))
    shutil.rmtree(run / "cohort")
    return run


def write_tables(folder, ct_only="0.700 ± 0.050", severe="0.780 ± 0.040"):
    """Tables III and IV as `reactkd robustness` / `dose` write them."""
    t3 = [[MODALITY_CONDITIONS[0][0], *metrics("0.800 ± 0.040")],
          [MODALITY_CONDITIONS[1][0], *metrics("0.790 ± 0.04")], [MODALITY_CONDITIONS[2][0], *metrics(ct_only)],
          ["trait oracle (CT)", *metrics("0.725 ± 0.049")], ["trait oracle (all)", *metrics("0.842 ± 0.037")]]
    write_csv(folder / "table3_missing_modality.csv", ["Inputs", *HEADER], t3)
    aucs = {"native": "0.800 ± 0.040", "severe": severe}
    t4 = [[label, *metrics(aucs.get(level, "0.790 ± 0.040")), "11.0 ± 0.2"] for label, level in DOSE_CONDITIONS]
    write_csv(folder / "table4_dose.csv", ["CT dose", *HEADER, "Liver noise (HU)"], t4)
    write_csv(folder / "table4_dose_response.csv", ["Dose fraction", *HEADER, "Liver noise (HU)"],
              [["1", *metrics("0.800 ± 0.040"), "11.0"], ["0.05", *metrics("0.700 ± 0.040"), "50.1"]])


def make_sources(tmp_path):
    """Every kind of folder the record reads, under tmp/runs; the record goes to tmp/docs/results.md."""
    root = tmp_path / "runs"
    compare = make_suite(root / "compare", "compare", [("KD", ("-0.062 ± 0.084", "0.004")),
                                                       (list(COMPARE_METHODS)[-1], ("+0.008 ± 0.013", "0.200"))])
    ablate = make_suite(root / "ablate", "ablate", [(ablation_name(True, True, False), ("-0.184 ± 0.18", "0.012")),
                                                    (ablation_name(True, False, True), ("-0.061 ± 0.07", "0.055")),
                                                    (ablation_name(False, True, True), ("0.014 ± 0.026", "0.310"))])
    demo = make_run(root / "demo")
    write_tables(demo / "tables")
    write_csv(demo / "report" / "summary.csv", ["Method", *HEADER], [["student", *metrics("0.786 ± 0.040")]])
    write_csv(demo / "report" / "calibration.csv", ["fold", "temperature", "n", "ece_before", "ece_after"],
              [["0", "0.30012", "23", "0.081", "0.109"], ["pooled", "", "69", "0.08123", "0.10934"]])
    write_csv(demo / "eval" / "external_native_all-inputs" / "summary.csv", ["Method", *HEADER],
              [["external_native_all-inputs", *metrics("0.640 ± 0.030")]])
    write_csv(demo / "tables" / "table4_dose_external.csv", ["CT dose", *HEADER, "Liver noise (HU)"],
              [[label, *metrics("0.640 ± 0.030"), "12.0"] for label, _ in DOSE_CONDITIONS])
    write_csv(demo / "tables" / "table4_dose_external_numeric.csv", ["CT dose", "auc_mean"], [["native", "0.64"]])
    for s in (1, 2):
        make_run(root / f"demo-seed{s}", seed=s)
    pooled = root / "pooled"
    write_tables(pooled, ct_only="0.510 ± 0.084", severe="0.790 ± 0.040")
    seg = make_run(root / "seg", "seg-demo-cpu", kind=SEGMENTATION)
    write_csv(seg / "evaluation.csv", ["model", "params", "infer_s", "dice_liver", "dice_tumor", "cases"],
              [["teacher", "653699", "3.4123", "0.9461", "0.3442", "6"],
               ["student", "163779", "1.5", "0.945", "0.0", "6"]])
    return [str(compare), str(ablate), str(demo), f"{pooled}={root / 'demo-seed1'},{root / 'demo-seed2'}", str(seg)]


def _spread(mean, std):
    return {"mean": mean, "std": std, "runs": 3}


SCHEME_SUMMARY = {  # (held-out ECE, NLL), (fresh-cohort ECE, NLL), lowers ECE in both
    "per-fold": ((0.109, 0.021), (0.951, 0.050), (0.120, 0.015), (1.004, 0.041), False),
    "pooled": ((0.070, 0.010), (0.880, 0.020), (0.060, 0.010), (0.870, 0.030), True),
    "shrunk": ((0.075, 0.012), (0.890, 0.020), (0.085, 0.012), (0.905, 0.030), False),
    "none": ((0.081, 0.015), (0.900, 0.030), (0.080, 0.011), (0.910, 0.035), False),
}


def write_calibration_schemes(path, runs, fresh="../fresh/manifest.csv"):
    """A JSON as ``benchmarks/calibration_schemes.py RUN … --fresh MANIFEST --out path`` writes it, naming ``runs``
    as given (strings)."""
    keys = ("held_out_ece", "held_out_nll", "fresh_ece", "fresh_nll")
    summary = {name: {**{k: _spread(*v) for k, v in zip(keys, values)}, "lowers_ece": values[-1]}
               for name, values in SCHEME_SUMMARY.items()}
    per_run = {run: {name: {"temperatures": [1.0, 1.0, 1.0], "held_out": {"ece": v[0][0], "nll": v[1][0]},
                            "fresh": {"ece": v[2][0], "nll": v[3][0]}, "held_out_cases": 69, "fresh_cases": 96}
                     for name, v in SCHEME_SUMMARY.items()} for run in runs}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": list(runs), "fresh": fresh, "n_bins": 10, "schemes": list(SCHEME_SUMMARY),
                                "per_run": per_run, "summary": summary}, indent=1) + "\n", encoding="utf-8")
    return path


def record_text(tmp_path, sources, **kwargs):
    out = tmp_path / "docs" / "results.md"
    write_record(sources, out, **kwargs)
    return out.read_text(encoding="utf-8")


def section(text, heading):
    return text.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
