"""``reactkd calibrate``: give each fold student its temperature from the validation splits, by a calibration
scheme (``RUN/fold{k}/calibration.json``), and record the run's training domain (``RUN/training_domain.json``);
``reactkd predict --model RUN`` then grades with calibrated probabilities. ``reactkd evaluate --run RUN``
(the report) does this too when it is missing."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.cli.robustness import add_device_arguments, check_device
from reactkd.evaluate.temperature_schemes import DEFAULT_SCHEME, SCHEMES, temperature_scheme
from reactkd.inference.calibrate import calibrate_run


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("calibrate", help="temperature-scale a trained run's fold students", description=__doc__)
    p.add_argument("--run", required=True, type=Path, help="run folder written by `reactkd train`")
    p.add_argument("--scheme", metavar="NAME",
                   help=f"how the folds get their temperatures: {', '.join(SCHEMES)} (per-fold: each fold's own "
                        "validation cases; pooled: one T on all folds' validation cases; shrunk: the fold's T shrunk "
                        "towards 1; none: T = 1). Default: the scheme the run was calibrated with, else "
                        f"{DEFAULT_SCHEME}. Another scheme than the written one refits from the stored validation "
                        "logits")
    p.add_argument("--force", action="store_true", help="run the students on their validation cases again and refit")
    add_device_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.scheme is not None:
        temperature_scheme(args.scheme)  # an unknown scheme is one line naming the choices
    check_device([args.run], args)
    folds = calibrate_run(args.run, scheme=args.scheme, force=args.force, device=args.device,
                          precision=args.precision)
    print(f"{folds[0]['scheme']}: " + ", ".join(f"fold {r['fold']}: T = {r['temperature']:.3f}" for r in folds))
    return 0
