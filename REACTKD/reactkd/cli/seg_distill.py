"""``reactkd seg-distill``: ReCo-KD for liver/tumour segmentation: a large teacher, then a compact student
distilled from it (MS-SARD + MS-CA) and the same student trained alone (the control), then the three on
held-out patients (RUN/evaluation.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.cli.validate import output_folder
from reactkd.config.shipped import resolve_config_path
from reactkd.segment.config import load_seg_config
from reactkd.segment.experiment import run_seg_distill


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("seg-distill", help="train a seg teacher and distil a compact seg student (ReCo-KD)",
                              description=__doc__)
    p.add_argument("--config", required=True, help="segmentation YAML, or a shipped name (seg-demo-cpu, seg-paper)")
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE", default=[],
                   help="override a config value, e.g. --set stage1.epochs=2 (repeatable)")
    p.add_argument("--out", required=True, type=Path, help="run folder (re-running resumes it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output_folder(args.out)
    config = load_seg_config(resolve_config_path(args.config), args.overrides)
    run_seg_distill(config, args.out)
    print(f"seg-distill: done → {args.out} (segment with: reactkd segment --model {args.out} --ct CT --out DIR)")
    return 0
