"""``reactkd evaluate``: re-evaluate a trained run (report, missing modality, dose level, external cohort)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.cli.robustness import add_device_arguments, check_device
from reactkd.inference.run_eval import evaluate_run
from reactkd.report.run_report import write_report


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="evaluate a trained run", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="run folder written by `reactkd train`")
    p.add_argument("--manifest", help="evaluate on another cohort (every fold's student predicts every case)")
    p.add_argument("--dose", help="native, mild, severe, mixed or a dose fraction in (0, 1]")
    p.add_argument("--withhold", choices=["pet", "ct"], help="declare a modality missing")
    add_device_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_device([args.run], args)  # before any work: nothing is written into a folder that is not a run
    if not (args.manifest or args.dose or args.withhold):
        print(f"report: {write_report(args.run, device=args.device, precision=args.precision)}")
        return 0

    out = evaluate_run(args.run, args.manifest, args.dose, args.withhold, device=args.device,
                       precision=args.precision)
    print((out / "summary.md").read_text())
    print(f"→ {out}")
    return 0
