"""``reactkd robustness``: a trained run's students with PET + CT, PET only and CT only (Table III)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reactkd.cli.validate import output_folder
from reactkd.config.run_dir import read_run_config, read_run_info
from reactkd.config.schema import Device, Precision
from reactkd.experiments import robustness_table
from reactkd.inference.device import evaluation_runtime


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """``--run RUN [RUN ...]``, ``--out`` and ``--manifest``, shared with ``reactkd dose``."""
    p.add_argument("--run", required=True, type=Path, nargs="+",
                   help="run folder written by `reactkd train`; several (e.g. the seeds of one compare row) "
                        "are pooled into one table, written to --out")
    p.add_argument("--out", type=Path, help="folder for the pooled table (default: RUN/tables of a single run)")
    p.add_argument("--manifest", help="evaluate on another cohort instead of the held-out folds")


def add_device_arguments(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--precision``: where a run's models run when it is evaluated (default: the run's own)."""
    p.add_argument("--device", choices=[d.value for d in Device],
                   help="where the students run (default: the run's config, so CUDA when it trained there; "
                        "a CUDA run on a machine without CUDA runs on the CPU in fp32, with a warning)")
    p.add_argument("--precision", choices=[q.value for q in Precision],
                   help="fp32, bf16, fp16 (CUDA only) or auto (default: the run's config)")


def check_device(runs: list[Path], args: argparse.Namespace) -> None:
    """A ``--device`` / ``--precision`` this machine cannot run is one line before any work (each run
    folder is checked first)."""
    for run in runs:
        read_run_info(run)
        if args.device or args.precision:
            evaluation_runtime(read_run_config(run), args.device, args.precision)


def print_table(make_table, args: argparse.Namespace) -> int:
    check_device(args.run, args)
    path = make_table(args.run, args.manifest, args.out, device=args.device, precision=args.precision)
    print(path.read_text())
    print(f"→ {path} (and .csv)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("robustness", help="Table III: inference with a modality withheld",
                              description=__doc__)
    add_run_arguments(p)
    add_device_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        output_folder(args.out)

    return print_table(robustness_table, args)
