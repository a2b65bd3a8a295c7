"""``reactkd results``: write the results record (e.g. ``docs/results.md``) from run and suite folders: the
paper's claims table, then one section per table, each stamped (commit, config and its SHA-256, cohort, seeds,
machine, date) and marked stale where its config is no longer the shipped one. Re-running on the same folders
writes the same bytes.

Folders: a ``reactkd compare``/``ablate`` folder, a run folder (its ``tables/``, its evaluations on other
cohorts, its report's summary and calibration; a ``seg-distill`` run's evaluation), or a pooled
``robustness``/``dose --out`` folder given as ``DIR=RUN[,RUN...]`` with the runs it pooled.

``--calibration FILE.json`` (``benchmarks/calibration_schemes.py RUN … --fresh MANIFEST --out FILE.json``) adds a
section after the calibration: per scheme, the held-out and fresh-cohort ECE and NLL over the runs, whether it lowers
ECE in both, and the shipped default; stamped from the runs the JSON names.

``--collect DIR`` first copies the small files the record reads of each folder (run.json, config.yaml, the tables
and summaries, a slim cohort.json; no checkpoint, image or cache) into ``DIR/<folder name>/`` and writes the record
from the copies: committed beside the record, they regenerate it with the command its last section names."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.cli.validate import output_folder
from reactkd.config.run_dir import SEGMENTATION
from reactkd.report.record import write_record
from reactkd.report.record_stamp import ShippedConfigs
from reactkd.segment.config import load_seg_config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("results", help="the results record: stamped tables and the paper's claims",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="+", metavar="DIR",
                   help="run or suite folder; a pooled robustness/dose folder as DIR=RUN[,RUN...]")
    p.add_argument("--out", required=True, type=Path, help="the markdown file to write (e.g. docs/results.md)")
    p.add_argument("--ceiling", type=Path,
                   help="JSON of benchmarks/privileged_ceiling.py --out: bounds what distillation can add")
    p.add_argument("--calibration", type=Path, metavar="FILE.json",
                   help="JSON of benchmarks/calibration_schemes.py --out: a section comparing the calibration schemes "
                        "over its runs")
    p.add_argument("--collect", type=Path, metavar="DIR",
                   help="copy what the record reads of each folder into DIR/<folder name>/ and write the record "
                        "from the copies (e.g. docs/results/runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out.is_dir():
        raise IsADirectoryError(f"--out {args.out} is a folder; give the markdown file to write.")
    output_folder(args.out.parent)
    if args.collect is not None:
        output_folder(args.collect, "--collect")
    shipped = ShippedConfigs(loaders={SEGMENTATION: load_seg_config})
    path = write_record(args.sources, args.out, args.ceiling, shipped, args.collect, args.calibration)
    print(f"→ {path}")
    return 0
