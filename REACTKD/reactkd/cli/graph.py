"""``reactkd graph``: print the region graph (liver + tumour components) of one case."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from reactkd.cli.validate import finite_number
from reactkd.io import load_case
from reactkd.preprocess import PreprocessConfig, region_graph


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "graph",
        help="print the region graph of one case",
        description="Nodes (liver, tumour components) with voxels, volume (ml) and world LPS centroid (mm), "
        "measured on the CT's grid after mask refinement.",
    )
    p.add_argument("--ct", required=True, help="CT: NIfTI/NRRD file or DICOM series folder")
    p.add_argument("--liver", required=True, metavar="MASK[:LABEL]", help="liver mask (label value or segment name)")
    p.add_argument("--tumor", metavar="MASK[:LABEL]", help="tumour mask (optional; none = liver-only graph)")
    p.add_argument("--min-tumor-ml", type=float, default=None, help="drop tumour components below this volume")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    finite_number(args.min_tumor_ml, "--min-tumor-ml", minimum=0)
    config = PreprocessConfig() if args.min_tumor_ml is None else PreprocessConfig(min_tumor_ml=args.min_tumor_ml)
    case = load_case(args.ct, args.liver, args.tumor, case_id=str(args.ct))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = region_graph(case, config)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    summary = graph.summary()
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"{len(graph.nodes)} node(s): 1 liver, {len(graph.nodes) - 1} tumour(s)")
    print(f"{'#':>3} {'kind':<6} {'voxels':>9} {'volume_ml':>10}  centroid_lps_mm")
    for i, n in enumerate(graph.nodes):
        print(f"{i:>3} {n.kind:<6} {n.voxels:>9} {n.volume_ml:>10.3f}  {n.centroid_lps_mm}")
    if graph.dropped:
        print(f"dropped {len(graph.dropped)} tumour component(s) under {config.min_tumor_ml} ml")
    return 0
