"""``reactkd dose``: a trained run's students at native, mild, severe and mixed CT dose (Table IV)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("dose", help="Table IV: inference on dose-degraded CT", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="run folder written by `reactkd train`")
    p.add_argument("--manifest", help="evaluate on another cohort instead of the held-out folds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reactkd.experiments import dose_table

    path = dose_table(args.run, args.manifest)
    print(path.read_text())
    print(f"→ {path} (and .csv)")
    return 0
