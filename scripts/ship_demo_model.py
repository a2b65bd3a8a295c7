#!/usr/bin/env python3
"""Regenerate the extension's shipped synthetic demonstration model and its phantom sample case.

    .venv/bin/python scripts/ship_demo_model.py --run runs/demo [--model-out DIR] [--sample-out DIR]
                                                [--sample-seed S] [--no-sample]

From a finished ``reactkd demo`` run folder it writes ``--model-out`` (default
``REACTKD/Resources/Models/demo-synthetic``), an ordinary run folder that ``reactkd predict --model``
grades with:

- ``fold{k}/student/best.pt`` (the fold students, copied byte for byte) and ``best.json`` beside each
  (its metadata, so Slicer's process reads it without torch), ``fold{k}/calibration.json``;
- ``run.json`` (the run folder's format), ``training_domain.json`` and ``config.yaml`` (the resolved
  config the run trained with);
- ``model_card.json`` and ``MODEL_CARD.md``: training data (phantom generator and version, config name
  and SHA-256, commit), the cross-validated figures read from the run's tables (``report/summary_numeric.csv``,
  ``tables/table3_missing_modality_numeric.csv``), the intended use, and every file's size and SHA-256.

and ``--sample-out`` (default ``REACTKD/Resources/SampleData``): one phantom case made with
``reactkd cohort`` (a patient the model never saw: another seed than the run's cohort), cropped around the
liver to keep it small, as the CT, both PETs and a ``.seg.nrrd`` with the ``liver`` and ``tumor``
segments, plus ``REACTKDPhantom.json`` (the files' SHA-256 and the case's true grade), which Slicer's
Sample Data module registers.

Both folders are built beside their target and renamed into place, so a failed run leaves the previous
ones untouched. Refused with one line (exit 2): a run without fold students, a fold without its
calibration, a run without ``training_domain.json`` or without its report tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "REACTKD"))

from REACTKDLib.model import student_checkpoints, write_metadata_sidecar  # noqa: E402
from REACTKDLib.model_card import MODEL_CARD_JSON, MODEL_CARD_TEXT, ModelCard, file_digest, write_card  # noqa: E402
from REACTKDLib.sample_data import SAMPLE_FILES, SAMPLE_JSON, SAMPLE_NAME, SAMPLE_THUMBNAIL  # noqa: E402

MODEL_OUT = ROOT / "REACTKD" / "Resources" / "Models" / "demo-synthetic"
SAMPLE_OUT = ROOT / "REACTKD" / "Resources" / "SampleData"
INTENDED_USE = (
    "Showing the REACTKD workflow in 3D Slicer: press Apply on the phantom sample case (Sample Data module, "
    "category REACTKD) and see the grade table, the region graph and the attention map. It learnt from "
    "generated phantom patients only, so on a patient's CT its grade means nothing: do not use it to grade "
    "patients. Train a model on your own labelled cases (REACTKDTrainer or `reactkd train`) for that. "
    "Research use only; not a medical device.")
SAMPLE_SEED = 7
"""The sample patient's cohort seed: the demo's cohort uses seed 0, so the sample is a patient it never saw."""
CROP_MARGIN_MM = 20.0


class ShipError(ValueError):
    """A run folder that cannot be shipped; the message names the file and what to do."""


def check_run(run: Path) -> list[Path]:
    """The fold students of a finished run; raises ShipError naming what is missing."""
    if not run.is_dir():
        raise ShipError(f"run folder not found: {run}")
    students = student_checkpoints(run)
    if not students:
        raise ShipError(f"{run} holds no fold students (fold*/student/best.pt): run `reactkd demo` to the end first.")
    for path in students:
        fold = path.parent.parent
        if not (fold / "calibration.json").is_file():
            raise ShipError(f"{fold / 'calibration.json'} is missing: run `reactkd calibrate --run {run}` first.")
    if not (run / "run.json").is_file():
        raise ShipError(f"{run / 'run.json'} is missing: the run was made by an older reactkd, which this one "
                        "cannot grade with; run `reactkd demo` again into a new folder.")
    for rel in ("training_domain.json", "config.yaml", "report/summary_numeric.csv"):
        if not (run / rel).is_file():
            raise ShipError(f"{run / rel} is missing: the run has not finished (`reactkd demo` writes it).")
    return students


def _rows(path: Path, key: str) -> dict[str, dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return {row[key]: row for row in csv.DictReader(f)}


def _metrics(row: dict) -> dict:
    out = {}
    for metric in ("auc", "accuracy", "f1"):
        if row.get(f"{metric}_mean") not in (None, ""):
            out[metric] = {"mean": round(float(row[f"{metric}_mean"]), 4), "std": round(float(row[f"{metric}_std"]), 4),
                           "n": int(float(row[f"{metric}_n"]))}
    return out


def read_figures(run: Path) -> dict:
    """Cross-validated student figures from the run's own tables (nothing is recomputed)."""
    summary = run / "report" / "summary_numeric.csv"
    conditions = {"PET + CT where present (as evaluated)": _metrics(_rows(summary, "Method")["student"])}
    sources = [summary.relative_to(run).as_posix()]
    table3 = run / "tables" / "table3_missing_modality_numeric.csv"
    if table3.is_file():
        rows = _rows(table3, "Inputs")
        for label in ("CT only (PET withheld)", "trait oracle (CT)"):
            if label in rows:
                conditions[label] = _metrics(rows[label])
        sources.append(table3.relative_to(run).as_posix())
    return {"conditions": conditions, "source": sources}


def _commit(metadata: dict, given: str | None = None, run: Path | None = None) -> tuple[str, str]:
    """``(commit, where it was read)``: the one given (``--commit``: the run was trained from another
    checkout), the run folder's record (``run.json``), the checkpoint's own record, else this source tree's HEAD."""
    if given:
        return given, "given when shipped (--commit)"
    try:
        recorded = json.loads((run / "run.json").read_text(encoding="utf-8")).get("commit") if run else None
    except (OSError, ValueError):
        recorded = None
    if recorded:
        return str(recorded), "the run's run.json"
    for key in ("commit", "git_commit", "source_commit"):
        if metadata.get(key):
            return str(metadata[key]), "checkpoint metadata"
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return head + ("-dirty" if dirty else ""), "source tree when shipped"
    except (OSError, subprocess.CalledProcessError):
        return "unknown", "no git"


def read_training_data(run: Path, metadata: dict, commit: str | None = None) -> tuple[dict, bool]:
    """``(training_data, synthetic)``: the cohort's generator record and the config the run trained with."""
    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    manifest = (config.get("data") or {}).get("manifest")
    cohort_json = (Path(manifest).parent if manifest else run / "cohort") / "cohort.json"
    commit, commit_source = _commit(metadata, commit, run)
    data = {"config_name": config.get("name", "?"), "config_sha256": file_digest(run / "config.yaml")["sha256"],
            "commit": commit, "commit_source": commit_source, "reactkd_version": metadata.get("reactkd_version", "?")}
    synthetic = False
    if cohort_json.is_file():
        cohort = json.loads(cohort_json.read_text(encoding="utf-8"))
        params = cohort.get("parameters", {})
        synthetic = "phantom" in str(cohort.get("generator", ""))
        data.update(description="the project's phantom cohort: generated patients whose grade follows documented "
                                "rules (reactkd cohort)" if synthetic else "a generated cohort",
                    generator=cohort.get("generator"), generator_version=cohort.get("generator_version"),
                    patients=params.get("n_patients"), cases=cohort.get("n_cases"), seed=params.get("seed"),
                    acquisition_grid=params.get("size"))
    else:
        data["description"] = f"the manifest {manifest} (no generator record found)"
    return data, synthetic


def _replace_folder(build: Path, target: Path) -> None:
    """Rename ``build`` onto ``target``, the old one moved aside first and removed only once it is done."""
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    if target.exists():
        os.rename(target, old)
    os.rename(build, target)
    shutil.rmtree(old, ignore_errors=True)


def ship_model(run: Path, out: Path, name: str = "demo-synthetic", commit: str | None = None) -> ModelCard:
    """Copy the run's fold students and write the card into ``out`` (replacing it); returns the card."""
    students = check_run(run)
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.build-"))
    try:
        folds = []
        for src in students:
            fold_dir = src.parent.parent
            k = int(fold_dir.name[4:])
            dst = build / fold_dir.name / "student" / "best.pt"
            dst.parent.mkdir(parents=True)
            shutil.copyfile(src, dst)
            write_metadata_sidecar(dst)
            shutil.copyfile(fold_dir / "calibration.json", build / fold_dir.name / "calibration.json")
            folds.append(k)
        for rel in ("run.json", "training_domain.json", "config.yaml"):
            shutil.copyfile(run / rel, build / rel)
        metadata = json.loads((build / students[0].parent.parent.name / "student" / "best.json").read_text())
        training_data, synthetic = read_training_data(run, metadata, commit)
        files = {p.relative_to(build).as_posix(): file_digest(p) for p in sorted(build.rglob("*")) if p.is_file()}
        card = ModelCard(name=name, title="REACT-KD demonstration model (synthetic phantom)" if synthetic else name,
                         synthetic=synthetic, intended_use=INTENDED_USE, training_data=training_data,
                         figures=read_figures(run), folds=sorted(folds), files=files)
        write_card(build, card)
        _replace_folder(build, out)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return card


# --- the sample case -------------------------------------------------------------------------------------

def _crop(image, lo_mm, hi_mm):
    """``image`` cropped to the world box [lo_mm, hi_mm] (LPS), geometry kept."""
    import SimpleITK as sitk

    corners = [image.TransformPhysicalPointToContinuousIndex([float(c) for c in (x, y, z)])
               for x in (lo_mm[0], hi_mm[0]) for y in (lo_mm[1], hi_mm[1]) for z in (lo_mm[2], hi_mm[2])]
    size = image.GetSize()
    start = [max(0, int(min(c[d] for c in corners))) for d in range(3)]
    stop = [min(size[d], int(max(c[d] for c in corners)) + 2) for d in range(3)]
    return sitk.RegionOfInterest(image, [b - a for a, b in zip(start, stop)], start)


def make_sample(out: Path, size=(96, 96, 64), seed: int = SAMPLE_SEED) -> dict:
    """Write the sample case into ``out`` (replacing the sample's files only); returns its JSON record."""
    import numpy as np
    import SimpleITK as sitk

    from reactkd.segment.writer import write_masks

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cohort = Path(tmp) / "cohort"
        subprocess.run([sys.executable, "-m", "reactkd", "cohort", "--out", str(cohort), "--patients", "1",
                        "--seed", str(seed), "--size", *map(str, size)], check=True, capture_output=True)
        row = next(csv.DictReader(open(cohort / "manifest.csv", newline="", encoding="utf-8")))
        images = {k: sitk.ReadImage(str(cohort / row[k])) for k in ("ct", "pet_fdg", "pet_acetate", "liver_mask",
                                                                      "tumor_mask")}
        liver = sitk.GetArrayFromImage(images["liver_mask"])
        idx = np.argwhere(liver > 0)
        pts = [images["liver_mask"].TransformIndexToPhysicalPoint([int(i) for i in p[::-1]])
               for p in (idx.min(0), idx.max(0))]
        lo = np.minimum(*pts) - CROP_MARGIN_MM
        hi = np.maximum(*pts) + CROP_MARGIN_MM
        cropped = {k: _crop(v, lo, hi) for k, v in images.items()}
        labels = (sitk.Cast(cropped["liver_mask"] > 0, sitk.sitkUInt8)
                  + sitk.Cast(cropped["tumor_mask"] > 0, sitk.sitkUInt8))
        built = Path(tmp) / "sample"
        written = {"ct": built / SAMPLE_FILES["ct"], "pet_fdg": built / SAMPLE_FILES["pet_fdg"],
                   "pet_acetate": built / SAMPLE_FILES["pet_acetate"]}
        built.mkdir()
        for key, path in written.items():
            sitk.WriteImage(cropped[key], str(path), True)
        seg = write_masks(labels, built / "seg")["seg_nrrd"]
        shutil.move(seg, built / SAMPLE_FILES["segmentation"])
        truth = json.loads((cohort / "cohort.json").read_text())
        record = {"name": SAMPLE_NAME, "synthetic": True, "case_id": row["case_id"], "grade": int(row["grade"]),
                  "source": {"command": f"reactkd cohort --patients 1 --seed {seed} "
                                        f"--size {size[0]} {size[1]} {size[2]}",
                             "generator": truth["generator"], "generator_version": truth["generator_version"],
                             "cropped_to": f"the liver's box + {CROP_MARGIN_MM:g} mm"},
                  "files": {}}
        for key, rel in SAMPLE_FILES.items():
            target = out / rel
            shutil.copyfile(built / rel, target)
            record["files"][key] = {"file": rel, **file_digest(target)}
        _thumbnail(cropped["ct"], labels, out / SAMPLE_THUMBNAIL)
        (out / SAMPLE_JSON).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def _thumbnail(ct, labels, path: Path) -> None:
    """A small PNG for the Sample Data button: the axial slice through the tumour, liver and tumour outlined."""
    import numpy as np
    import SimpleITK as sitk
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image, lab = sitk.GetArrayFromImage(ct).astype(float), sitk.GetArrayFromImage(labels)
    k = int(np.argwhere(lab == 2)[:, 0].mean()) if (lab == 2).any() else lab.shape[0] // 2
    fig = Figure(figsize=(1.6, 1.6), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.imshow(np.clip((image[k] + 160) / 400, 0, 1)[::-1, ::-1], cmap="gray", interpolation="nearest")
    ax.contour((lab[k] >= 1)[::-1, ::-1], levels=[0.5], colors=["#de8269"], linewidths=1)
    ax.contour((lab[k] == 2)[::-1, ::-1], levels=[0.5], colors=["#edd94c"], linewidths=1)
    ax.set_axis_off()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="a finished `reactkd demo` run folder")
    p.add_argument("--model-out", type=Path, default=MODEL_OUT)
    p.add_argument("--sample-out", type=Path, default=SAMPLE_OUT)
    p.add_argument("--sample-seed", type=int, default=SAMPLE_SEED)
    p.add_argument("--no-sample", action="store_true", help="write the model only")
    p.add_argument("--commit", help="the commit the run was trained with (default: the run's run.json, the "
                                    "checkpoints' record, else HEAD)")
    args = p.parse_args(argv)
    try:
        card = ship_model(args.run, args.model_out, commit=args.commit)
    except ShipError as err:
        print(f"ship_demo_model: {err}", file=sys.stderr)
        return 2
    total = sum(f["size"] for f in card.files.values())
    print(f"model: {args.model_out} ({len(card.folds)} fold students, {total / 1e6:.2f} MB, "
          f"synthetic={card.synthetic})")
    print((args.model_out / MODEL_CARD_TEXT).read_text().split("## Files")[0])
    if not args.no_sample:
        import yaml

        config = yaml.safe_load((args.run / "config.yaml").read_text()) or {}
        size = tuple((config.get("data") or {}).get("phantom_size") or (96, 96, 64))
        record = make_sample(args.sample_out, size, args.sample_seed)
        kb = sum(f["size"] for f in record["files"].values()) / 1e3
        print(f"sample case: {args.sample_out} ({record['case_id']}, true grade {record['grade']}, {kb:.0f} kB)")
    print(f"now run: .venv/bin/python scripts/sync_cmake.py  (lists the files for Slicer's build); "
          f"{MODEL_CARD_JSON} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
