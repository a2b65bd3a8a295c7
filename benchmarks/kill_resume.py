#!/usr/bin/env python3
"""Kill-and-resume sweep: SIGKILL a tiny training run at ``--points`` random points and resume it.

The harness (reference run, kill points, checks) is test code, ``Testing/core/kill_resume_harness.py``;
the test suite runs it with two fixed points (``Testing/core/test_kill_resume.py``), this sweep with
random ones, every kind of kill point at least once when ``--points`` >= 5.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/kill_resume.py --points 10 --seed 0 [--work DIR]

Prints one JSON object (the points and their results); exit code 1 when any trial failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Testing" / "core"))

from kill_resume_harness import EVENTS, sweep  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--epochs", type=int, nargs=2, default=(2, 2), metavar=("STAGE1", "STAGE2"))
    parser.add_argument("--events", nargs="+", default=list(EVENTS), choices=EVENTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        report = sweep(args.points, args.seed, work, tuple(args.epochs), tuple(args.events))
    print(json.dumps(report, indent=1))
    return 0 if report["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
