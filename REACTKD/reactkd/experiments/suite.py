"""Train several variants of one experiment on the same cohort, folds and seeds, and tabulate them.

Folder ``OUT``::

    suite.yaml                     what was asked (kind, base config, rows; seeds so far); a re-run must match
    cohort/                        the embedded cohort, generated once (when the base config has no manifest)
    cache/, dose-cache/            preprocessing and low-dose caches shared by every run
    teachers/<key>/fold{k}/teacher stage-1 teachers, one set per distinct teacher setting and seed
    runs/seed{s}/<row>/            an ordinary run folder per row and seed (``reactkd evaluate --run`` works)
    table.md, table.csv            the table (mean ± std over every fold of every seed), table_numeric.csv;
                                   on the phantom, Table I ends with the trait-oracle reference rows
    paired.csv                     each row against the first, paired over (seed, fold): Δ AUC, wins, Wilcoxon p
    dca_<question>.png             decision curves of every row (predictions pooled over folds and seeds)
    index.md                       the page to open

Rows that share a teacher setting (everything of stage 1: teacher kwargs, stage-1 schedule, data, seed,
precision) share ``teachers/<key>``: Table I trains one set of teachers for all nine students, Table II four.
Every step resumes: finished stages, folds and runs are skipped on a re-run.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import yaml

from reactkd.cohort import read_folds
from reactkd.config import ConfigError, ExperimentConfig, config_from_mapping, to_dict
from reactkd.config.identity import config_identity, teacher_key
from reactkd.evaluate.dca import GradeQuestion, grade_decision_curve
from reactkd.evaluate.figures import plot_dca
from reactkd.evaluate.metrics import aggregate_folds, evaluate_folds
from reactkd.evaluate.paired import paired_table
from reactkd.evaluate.predictions import concat_predictions, read_run_predictions
from reactkd.evaluate.tables import summary_table
from reactkd.experiments.cross_validation import run_experiment
from reactkd.experiments.variants import Variant
from reactkd.phantom.cohort import generate_cohort
from reactkd.phantom.oracle import oracle_rows

__all__ = ["run_suite", "SuiteResult", "teacher_key"]


@dataclass
class SuiteResult:
    out: Path
    table_md: Path
    table_csv: Path
    figures: list[Path] = field(default_factory=list)
    runs: dict[str, list[Path]] = field(default_factory=dict)  # row name → run folder per seed


def _identity(request: dict) -> dict:
    """What makes two requests the same experiment: the base config's identity and the rows."""
    return {"kind": request.get("kind"), "base": config_identity(request.get("base", {})), "rows": request.get("rows")}


def _check_request(out: Path, request: dict, seeds: list[int]) -> list[int]:
    """Record the request in ``suite.yaml`` (refusing another experiment's folder); returns every seed asked
    of this folder so far, so that a later ``--seeds 1 2`` adds seeds to the table instead of replacing them."""
    path = out / "suite.yaml"
    if path.is_file():
        stored = yaml.safe_load(path.read_text())
        if _identity(stored) != _identity(request):
            raise ConfigError(f"{out} holds a different experiment (see its suite.yaml); choose another --out "
                              f"(nothing in it was changed).")
        seeds = sorted(set(stored.get("seeds", [])) | set(seeds))
    elif out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty and is not a REACTKD experiment folder; choose another --out.")
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**request, "seeds": seeds}, sort_keys=False))
    return seeds


def _shared_base(base: ExperimentConfig, out: Path) -> ExperimentConfig:
    """The base config pointed at the suite's cohort and caches (the cohort generated once if embedded)."""
    c = copy.deepcopy(base)
    if not c.data.manifest:

        size = tuple(c.data.phantom_size) if c.data.phantom_size else None
        c.data.manifest = str(generate_cohort(out / "cohort", n_patients=c.data.phantom_patients,
                                              seed=c.data.phantom_seed, size=size).resolve())
    c.data.cache_dir = str(out.resolve())
    return c


def run_suite(base: ExperimentConfig, out: str | Path, variants: Sequence[Variant], seeds: Sequence[int] = (0,),
              kind: str = "experiment", log: Callable[[str], None] = print) -> SuiteResult:
    """Train every variant for every seed (resumable), then write the table and decision curves.

    Raises:
        ValueError: no variants, duplicate row names, or no seeds.
        ConfigError: ``out`` holds another experiment.
    """

    out = Path(out)
    if not variants:
        raise ValueError("an experiment needs at least one row.")
    slugs = [v.slug for v in variants]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"row names must differ after making them folder-safe, got {slugs}.")
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"give one or more distinct seeds, got {seeds}.")
    request = {"kind": kind, "base": to_dict(base), "rows": [v.name for v in variants]}
    all_seeds = _check_request(out, request, seeds)
    shared = _shared_base(base, out)
    runs: dict[str, list[Path]] = {v.name: [] for v in variants}
    for seed in all_seeds:
        for v in variants:
            run_dir = out / "runs" / f"seed{seed}" / v.slug
            if seed not in seeds:  # asked before: tabulated when finished, not trained now
                if _finished(run_dir):
                    runs[v.name].append(run_dir)
                continue
            config = v.apply(shared)
            config.seed = seed
            config = config_from_mapping(to_dict(config))  # validate the edited config like a file
            log(f"[{kind}] seed {seed} · {v.name} (teachers {teacher_key(config)})")
            run_experiment(config, run_dir, log=log, teacher_store=out / "teachers")
            runs[v.name].append(run_dir)
    # A seed joins the table only once every row has finished it: rows over other seeds would not be paired.
    complete = [seed for seed in all_seeds if all(_finished(out / "runs" / f"seed{seed}" / v.slug) for v in variants)]
    for seed in sorted(set(all_seeds) - set(complete)):
        log(f"[{kind}] seed {seed}: not every row has finished it; left out of the table (--seeds {seed} finishes it)")
    runs = {name: [r for r in paths if int(r.parent.name[4:]) in complete] for name, paths in runs.items()}
    return write_suite_tables(out, runs, kind)


def _finished(run_dir: Path) -> bool:

    folds = run_dir / "folds.json"
    return folds.is_file() and all((run_dir / f"fold{k}" / "predictions.csv").is_file()
                                   for k in range(len(read_folds(folds))))


def write_suite_tables(out: Path, runs: dict[str, list[Path]], kind: str) -> SuiteResult:
    """Table (mean ± std over every fold of every seed), the paired comparison with the first row, and
    decision curves across rows."""

    summaries, pooled, paired_auc = {}, {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small folds may miss a grade; n per metric is in the numeric CSV
        for name, dirs in runs.items():
            # a case predicted by every seed counts once per seed: the pooled net benefit is the seeds' mean
            tables = [dataclasses.replace(t, case_id=np.char.add(f"{d.parent.name}/", t.case_id.astype(str)))
                      for d in dirs for t in read_run_predictions(d)]
            by_run = {d.parent.name: evaluate_folds(read_run_predictions(d))[0] for d in dirs}
            summaries[name] = aggregate_folds([m for ms in by_run.values() for m in ms])
            paired_auc[name] = {(seed, k): m["auc"] for seed, ms in by_run.items() for k, m in enumerate(ms)}
            pooled[name] = concat_predictions(tables)
    row_title = "Method" if kind == "compare" else "Variant"
    # The trait oracle on each seed's folds (every row of a seed shares them): the phantom's ceiling.
    reference = oracle_rows([same_seed[0] for same_seed in zip(*runs.values())]) if kind == "compare" and runs else {}
    summaries.update(reference)
    table = summary_table(summaries, row_title=row_title)
    result = SuiteResult(out, table.write_markdown(out / "table.md"), table.to_csv(out / "table.csv"), runs=runs)
    summary_table(summaries, row_title=row_title, numeric=True).to_csv(out / "table_numeric.csv")
    paired = paired_table(paired_auc, row_title=row_title) if len(runs) > 1 else None
    if paired is not None:
        paired.to_csv(out / "paired.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for q in GradeQuestion:
            curves = [grade_decision_curve(t.grade, t.probs, q, label=name) for name, t in pooled.items()]
            result.figures.append(plot_dca(curves, out / f"dca_{q.value}.png", title=q.title))
    seeds = sorted({d.parent.name for dirs in runs.values() for d in dirs}, key=lambda n: int(n[4:]))
    lines = [f"# {'Comparison of distillers (Table I)' if kind == 'compare' else 'Ablation (Table II)'}", "",
             f"Students on held-out folds; mean ± std over every fold of {len(seeds)} seed(s) ({', '.join(seeds)}).",
             "", table.to_markdown(), "", "CSV: [table.csv](table.csv), [numeric](table_numeric.csv)", ""]
    if reference:
        lines += ["The `trait oracle` rows are no network: a logistic regression on the phantom's hidden traits of "
                  "each fold's training patients, scored on the same held-out patients "
                  "(see reactkd.phantom.oracle).",
                  ""]
    if paired is not None:
        lines += ["## Paired over folds and seeds", "",
                  "Every row is trained on the same folds and seeds as the first, so its per-fold AUC pairs with "
                  "the first row's; the Wilcoxon signed-rank p is two-sided and uncorrected for the number of rows.",
                  "", paired.to_markdown(), "CSV: [paired.csv](paired.csv)", ""]
    lines += ["## Decision curves (predictions pooled over folds and seeds)", ""]
    lines += [f"![{p.name}]({p.name})" for p in result.figures]
    lines += ["", "## Runs", ""] + [f"- {name}: " + ", ".join(f"[{d.parent.name}]({d.relative_to(out)})" for d in dirs)
                                    for name, dirs in runs.items()]
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return result
