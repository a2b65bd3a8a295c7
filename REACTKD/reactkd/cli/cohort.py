"""``reactkd cohort``: write the embedded phantom cohort (synthetic PET/CT patients) and its manifest."""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

from reactkd.cli.validate import output_folder
from reactkd.phantom.cohort import generate_cohort
from reactkd.phantom.rules import RULES

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cohort`` subcommand to the ``reactkd`` parser."""

    p = subparsers.add_parser(
        "cohort",
        help="write the embedded synthetic cohort (CT, FDG and acetate PET, masks, manifest)",
        description=(
            "Write the embedded phantom cohort: synthetic HCC patients whose Edmondson-Steiner grade follows "
            "documented rules (see DIR/README.md), as NIfTI files behind an ordinary manifest.csv. Each CT is "
            "formed by the project's scanner model at a declared fluence (README: Acquisition). "
            "Re-running with the same parameters reuses the folder; any other non-empty folder is refused."
        ),
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="folder to create (new or empty)")
    p.add_argument("--patients", type=int, default=60, metavar="N",
                   help=f"number of patients (default 60; ~{int(RULES['repeat_fraction'] * 100)}%% get a second case)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--external", action="store_true",
                   help="write the external site's cohort instead: CT only, another scanner (fluence, kernel, "
                        "pixel, slice thickness), delayed contrast phase, other patients (for `reactkd evaluate "
                        "--run RUN --manifest DIR/manifest.csv`)")
    p.add_argument("--size", type=int, nargs=3, metavar=("X", "Y", "Z"),
                   help="CT acquisition grid in voxels over the fixed 384 x 384 x 320 mm field of view "
                        "(default: the site's, 192 192 64 = 2 x 2 x 5 mm; external 160 160 80)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate (or reuse) the cohort and print where its manifest is, with a one-line summary."""
    output_folder(args.out)
    reused = (Path(args.out) / "cohort.json").is_file()
    size = tuple(args.size) if args.size else None
    site = "external" if args.external else "main"
    manifest = generate_cohort(args.out, n_patients=args.patients, seed=args.seed, size=size, site=site)
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    patients = {r["patient_id"]: r["grade"] for r in rows}
    grades = Counter(patients.values())
    print(f"{'reused the existing' if reused else 'wrote the'} {site}-site cohort: {manifest}")
    print(f"{len(patients)} patients, {len(rows)} cases, patients by grade 1/2/3: "
          f"{grades['1']}/{grades['2']}/{grades['3']}")
    return 0
