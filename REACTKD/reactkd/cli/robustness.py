"""``reactkd robustness``: a trained run's students with PET + CT, PET only and CT only (Table III)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.experiments import robustness_table
from reactkd.cli.validate import output_folder


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """``--run RUN [RUN ...]``, ``--out`` and ``--manifest``, shared with ``reactkd dose``."""
    p.add_argument("--run", required=True, type=Path, nargs="+",
                   help="run folder written by `reactkd train`; several (e.g. the seeds of one compare row) "
                        "are pooled into one table, written to --out")
    p.add_argument("--out", type=Path, help="folder for the pooled table (default: RUN/tables of a single run)")
    p.add_argument("--manifest", help="evaluate on another cohort instead of the held-out folds")


def print_table(make_table, args: argparse.Namespace) -> int:
    path = make_table(args.run, args.manifest, args.out)
    print(path.read_text())
    print(f"→ {path} (and .csv)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("robustness", help="Table III: inference with a modality withheld",
                              description=__doc__)
    add_run_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        output_folder(args.out)

    return print_table(robustness_table, args)
