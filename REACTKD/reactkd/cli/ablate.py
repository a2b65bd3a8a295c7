"""``reactkd ablate``: the 8 combinations of dose-aware teacher, Region Graph Distillation and CBAM3D (Table II)."""

from __future__ import annotations

import argparse

from reactkd.cli.compare import add_suite_arguments
from reactkd.cli.validate import output_folder
from reactkd.config import load_config
from reactkd.config.shipped import resolve_config_path
from reactkd.experiments import ablation_variants, run_suite


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ablate", help="Table II: dose teacher × RGD × CBAM3D on and off",
                              description=__doc__)
    add_suite_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output_folder(args.out)

    config = load_config(resolve_config_path(args.config), args.overrides)
    result = run_suite(config, args.out, ablation_variants(config), args.seeds or [config.seed], kind="ablate")
    print(result.table_md.read_text())
    print(f"→ {args.out / 'index.md'}")
    return 0
