"""``reactkd manifest``: write a manifest from a cohort folder as public datasets ship it (LiTS, a DICOM
tree with DICOM SEG objects such as HCC-TACE-Seg, a folder per case), grades from a clinical table, every
case checked as ``predict`` checks its inputs; prints a summary with every case left out and why.

Exit codes: 0 with at least one usable case (the manifest is written), 2 when no case is usable or an
input is wrong (nothing written). Nothing under ROOT is changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reactkd.cohort.layouts import LabelValues, Layout, ManifestOptions, SegmentNames, build_manifest
from reactkd.cohort.layouts.segments import DEFAULT_TUMOR_SEGMENTS
from reactkd.cohort.manifest import ManifestError, read_manifest, write_manifest
from reactkd.utils.atomic import atomic_path

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``manifest`` subcommand to the ``reactkd`` parser."""
    p = subparsers.add_parser("manifest", help="write a manifest from a cohort folder (LiTS, DICOM tree, folders)",
                              description=__doc__)
    p.add_argument("root", type=Path, metavar="ROOT", help="the cohort's folder")
    p.add_argument("--out", required=True, type=Path, metavar="M.csv",
                   help="manifest to write (CSV; paths in it are relative to its folder)")
    p.add_argument("--layout", default="auto", choices=[m.value for m in Layout],
                   help="auto (default: detected and printed), lits, dicom or folders")
    p.add_argument("--clinical", type=Path, metavar="TABLE",
                   help="CSV/TSV/XLSX with a patient and a grade column (1/2/3, G1-G3, Edmondson-Steiner I-IV, "
                        "well/moderately/poorly differentiated) and optional age, sex, hepatitis, AFP")
    p.add_argument("--patient-column", metavar="NAME", help="the table's patient column (default: detected)")
    p.add_argument("--grade-column", metavar="NAME", help="the table's grade column (default: detected)")
    p.add_argument("--sheet", metavar="NAME", help="the XLSX sheet (default: the first)")
    p.add_argument("--keep-ungraded", action="store_true",
                   help="with --clinical, keep cases without a grade (empty grade: for predict, not train)")
    p.add_argument("--liver-label", type=int, default=1, metavar="N", help="liver value in label maps (default 1)")
    p.add_argument("--tumor-label", type=int, default=2, metavar="N", help="tumour value in label maps (default 2)")
    p.add_argument("--liver-segment", action="append", metavar="NAME",
                   help="segment label naming the liver (repeatable; default: liver)")
    p.add_argument("--tumor-segment", action="append", metavar="NAME",
                   help=f"segment label naming a tumour (repeatable; default: {', '.join(DEFAULT_TUMOR_SEGMENTS)})")
    p.add_argument("--cohort", default="", metavar="NAME", help="the manifest's cohort column (e.g. the centre)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=run)


def _check_out(out: Path, force: bool) -> None:
    if out.suffix.lower() != ".csv":
        raise ValueError(f"`--out` {out}: a manifest is written as CSV; give a name ending in .csv.")
    if out.is_dir():
        raise ValueError(f"`--out` {out} is a folder; give a file name ending in .csv.")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"`--out` folder does not exist: {out.parent}")
    if out.exists() and not force:
        raise ValueError(f"`--out` {out} exists; choose another name or pass --force to replace it.")


def run(args: argparse.Namespace) -> int:
    _check_out(args.out, args.force)
    names = SegmentNames(liver=tuple(args.liver_segment or SegmentNames().liver),
                         tumor=tuple(args.tumor_segment or SegmentNames().tumor))
    options = ManifestOptions(
        layout=args.layout, labels=LabelValues(args.liver_label, args.tumor_label), segments=names,
        clinical=args.clinical, patient_column=args.patient_column, grade_column=args.grade_column,
        sheet=args.sheet, keep_ungraded=args.keep_ungraded, cohort=args.cohort)
    summary = build_manifest(args.root, options, log=lambda line: print(line, flush=True))
    print("\n".join(summary.lines()))
    if not summary.records:
        print(f"reactkd manifest: error: no usable case under {args.root}; nothing written.", file=sys.stderr)
        return 2
    graded = all(r.grade is not None for r in summary.records)
    with atomic_path(args.out) as tmp:
        write_manifest(summary.records, tmp)
        try:  # what `train` (every grade) or `predict --manifest` reads, before it gets its name
            read_manifest(tmp, require_grade=graded)
        except ManifestError as err:
            raise RuntimeError(f"the written manifest does not read back: {err}") from err
    ungraded = sum(r.grade is None for r in summary.records)
    use = ("for `reactkd train` and `reactkd predict --manifest`" if graded else
           f"{ungraded} case(s) without a grade: for `reactkd predict --manifest`; `reactkd train` needs every grade")
    print(f"{len(summary.records)} case(s) → {args.out} ({use})")
    return 0
