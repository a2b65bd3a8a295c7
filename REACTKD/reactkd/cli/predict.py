"""``reactkd predict``: grade one case with a trained student; writes prediction.json and attention.nii.gz."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reactkd.cli.validate import inference_device, output_folder
from reactkd.utils.atomic import FolderLock, atomic_outputs


def _pets(items: list[str]) -> dict[str, str]:
    pets: dict[str, str] = {}
    for item in items:
        tracer, sep, path = item.partition("=")
        if not sep:
            tracer, path = "fdg", item  # a bare path is the FDG PET
        if tracer.lower() in pets:
            raise ValueError(f"--pet given twice for tracer {tracer!r}; write TRACER=PATH (fdg=…, acetate=…).")
        pets[tracer.lower()] = path
    return pets


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="grade one case with a trained student", description=__doc__)
    p.add_argument("--model", required=True, help="a student checkpoint, or a run folder (its best fold student)")
    p.add_argument("--ct", required=True)
    p.add_argument("--pet", action="append", default=[], metavar="[TRACER=]PATH", help="PET (fdg=…, acetate=…)")
    p.add_argument("--liver", required=True, metavar="MASK[:LABEL]")
    p.add_argument("--tumor", metavar="MASK[:LABEL]")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import SimpleITK as sitk

    from reactkd.io import load_case
    from reactkd.predict import predict_case
    from reactkd.train.inference import load_student

    output_folder(args.out)
    inference_device(args.device)
    pets = _pets(args.pet)
    # One writer per folder (a second `predict` into it is refused at once); both files are written beside
    # their names and renamed, prediction.json last (the old one removed first), so a complete-looking
    # prediction.json always comes with its own attention map.
    with FolderLock(args.out, "`--out`"):
        student, meta = load_student(args.model, args.device)
        case = load_case(args.ct, args.liver, args.tumor, pets, case_id=Path(args.ct).name)
        result, attention = predict_case(student, meta, case, args.device)
        with atomic_outputs([args.out / "attention.nii.gz"], args.out / "prediction.json") as tmp:
            sitk.WriteImage(attention, str(tmp[args.out / "attention.nii.gz"]), useCompression=True)
            tmp[args.out / "prediction.json"].write_text(json.dumps(result, indent=1))
    probs = ", ".join(f"G{g} {p:.3f}" for g, p in result["probabilities"].items())
    print(f"grade {result['grade']} ({probs}); {len(result['nodes'])} node(s) → {args.out}")
    return 0
