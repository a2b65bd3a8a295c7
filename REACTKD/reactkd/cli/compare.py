"""``reactkd compare``: REACT-KD against the other distillers on the same teachers, folds and seeds (Table I)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.cli.train import add_config_arguments
from reactkd.cli.validate import output_folder
from reactkd.config import load_config
from reactkd.config.shipped import resolve_config_path
from reactkd.experiments import compare_variants, run_suite


def add_suite_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--out", required=True, type=Path, help="experiment folder (re-running resumes it)")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="seeds, each a full cross-validation with its own folds (default: the config's seed)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("compare", help="Table I: every registered distiller on the same teachers",
                              description=__doc__)
    add_suite_arguments(p)
    p.add_argument("--methods", nargs="+", metavar="KEY",
                   help="distiller keys to compare (default: reactkd kd at cirkd mskd mtcmkd awmtkd ms_sard ms_ca "
                        "none; none = the student alone)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output_folder(args.out)

    config = load_config(resolve_config_path(args.config), args.overrides)
    result = run_suite(config, args.out, compare_variants(config, args.methods), args.seeds or [config.seed],
                       kind="compare")
    print(result.table_md.read_text())
    print(f"→ {args.out / 'index.md'}")
    return 0
