"""``reactkd calibrate``: fit each fold student's temperature on its own validation split
(``RUN/fold{k}/calibration.json``) and record the run's training domain (``RUN/training_domain.json``);
``reactkd predict --model RUN`` then grades with calibrated probabilities. ``reactkd evaluate --run RUN``
(the report) does this too when it is missing."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.cli.robustness import add_device_arguments, check_device
from reactkd.inference.calibrate import calibrate_run


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("calibrate", help="temperature-scale a trained run's fold students", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="run folder written by `reactkd train`")
    p.add_argument("--force", action="store_true", help="refit folds already calibrated")
    add_device_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_device([args.run], args)
    folds = calibrate_run(args.run, force=args.force, device=args.device, precision=args.precision)
    print(", ".join(f"fold {r['fold']}: T = {r['temperature']:.3f}" for r in folds))
    return 0
