"""``reactkd dose``: a trained run's students at native, mild, severe and mixed CT dose (Table IV); with
``--manifest`` on another cohort, e.g. an external CT-only one (``reactkd cohort --external``), as the
paper's Table IV is on external CT."""

from __future__ import annotations

import argparse

from reactkd.cli.robustness import add_device_arguments, add_run_arguments, print_table
from reactkd.experiments import dose_table


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dose", help="Table IV: inference on dose-degraded CT", description=__doc__)
    add_run_arguments(p)
    add_device_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return print_table(dose_table, args)
