"""``reactkd segment``: liver and tumour masks for a CT with a trained seg model (student by default).

Writes, on the CT's grid: ``liver.nii.gz`` (liver including tumours), ``tumor.nii.gz``,
``segmentation.seg.nrrd`` (segments ``liver`` and ``tumor``) and ``segment.json``; then
``reactkd predict --liver OUT/liver.nii.gz --tumor OUT/tumor.nii.gz`` grades the case."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from reactkd.cli.validate import inference_device, output_folder
from reactkd.io import read_image
from reactkd.segment.inference import load_seg_model, segment_ct
from reactkd.segment.writer import write_masks
from reactkd.utils.atomic import atomic_write_text


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("segment", help="segment liver and tumours in a CT (seg model from seg-distill)",
                              description=__doc__)
    p.add_argument("--model", required=True, help="a seg checkpoint, or a seg-distill run folder")
    p.add_argument("--which", choices=("student", "teacher"), default="student",
                   help="with a run folder: which model (default student)")
    p.add_argument("--ct", required=True, help="CT image (NIfTI/NRRD/MHA or DICOM series folder)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--postprocess", choices=("largest_component", "none"), default=None,
                   help="largest_component: keep the largest connected liver ∪ tumour component and drop stray "
                        "voxels elsewhere; none: the raw prediction (default: what the model was trained with)")
    p.add_argument("--progress", action="store_true", help="draw a progress bar over the sliding windows")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output_folder(args.out)
    inference_device(args.device)
    model, meta = load_seg_model(args.model, args.device, args.which)
    ct = read_image(args.ct, role="CT")
    t0 = time.perf_counter()
    labels = segment_ct(model, meta, ct, args.device, args.postprocess, progress=args.progress)
    seconds = time.perf_counter() - t0
    paths = write_masks(labels, args.out)
    voxel_ml = float(np.prod(ct.GetSpacing())) / 1000.0
    arr = sitk.GetArrayViewFromImage(labels)
    summary = {"ct": str(args.ct), "model": str(args.model), "kind": meta["kind"],
               "postprocess": args.postprocess or meta.get("postprocess", "none"), "seconds": round(seconds, 3),
               "liver_ml": round(float((arr > 0).sum()) * voxel_ml, 2),
               "tumor_ml": round(float((arr == 2).sum()) * voxel_ml, 2),
               "files": {k: p.name for k, p in paths.items()}}
    atomic_write_text(args.out / "segment.json", json.dumps(summary, indent=1))
    print(f"liver {summary['liver_ml']} ml, tumour {summary['tumor_ml']} ml ({seconds:.1f} s) → {args.out}")
    return 0
