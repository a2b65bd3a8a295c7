"""``reactkd train``: stage 1 (teachers) and stage 2 (student) over patient-level folds, then the report."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reactkd.cli.validate import output_folder
from reactkd.config import load_config
from reactkd.config.shipped import resolve_config_path
from reactkd.experiments.cross_validation import run_experiment
from reactkd.report.run_report import write_report


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, help="experiment YAML, or a shipped config name (demo-cpu, paper)")
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", default=[],
                   help="override a config value, e.g. --set stage1.epochs=2 (repeatable)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train teachers and the distilled student over CV folds",
                              description=__doc__)
    add_config_arguments(p)
    p.add_argument("--out", required=True, type=Path, help="run folder (re-running resumes it)")
    p.add_argument("--no-report", action="store_true", help="skip the report at the end")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output_folder(args.out)

    config = load_config(resolve_config_path(args.config), args.overrides)
    run_dir = run_experiment(config, args.out)

    if not args.no_report and int(os.environ.get("RANK", 0)) == 0:  # under torchrun only rank 0 reports

        print(f"report: {write_report(run_dir, title=config.name)}")
    return 0
