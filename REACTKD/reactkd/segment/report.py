"""Teacher, student and its controls on held-out cases: per-class Dice and HD95 on the CT's grid, parameters,
CPU time."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from reactkd.cohort.manifest import CaseRecord
from reactkd.io.case import load_case
from reactkd.segment.classes import SEG_CLASSES
from reactkd.segment.inference import segment_ct
from reactkd.segment.metrics import dice_per_class, hd95_per_class
from reactkd.segment.models import count_parameters

__all__ = ["evaluate_models", "write_table", "TABLE_COLUMNS"]

TABLE_COLUMNS = ("model", "params", "infer_s", *(f"dice_{c}" for c in SEG_CLASSES[1:]),
                 *(f"hd95_{c}_mm" for c in SEG_CLASSES[1:]), "cases")


def _truth(record: CaseRecord) -> tuple[sitk.Image, np.ndarray]:
    case = load_case(record.ct, record.liver_mask, record.tumor_mask, None, record.case_id, record.patient_id)
    liver, tumor = (sitk.GetArrayFromImage(m) > 0 for m in (case.liver, case.tumor))
    labels = np.zeros(liver.shape, np.uint8)
    labels[liver] = 1
    labels[tumor] = 2
    return case.ct, labels


def evaluate_models(models: dict[str, tuple[torch.nn.Module, dict]], records: list[CaseRecord],
                    device: str | torch.device = "cpu") -> list[dict]:
    """One row per model: mean per-class Dice/HD95 over ``records`` (on each CT's own grid; a class is
    averaged over the cases that contain it), parameter count, median seconds per volume for
    :func:`~reactkd.segment.inference.segment_ct` (resampling + sliding windows + painting back)."""
    per_model: dict[str, dict[str, list]] = {name: {"times": [], "rows": []} for name in models}
    for record in records:
        ct, truth = _truth(record)
        spacing_zyx = ct.GetSpacing()[::-1]
        for name, (model, meta) in models.items():
            t0 = time.perf_counter()
            with torch.inference_mode():
                pred = sitk.GetArrayFromImage(segment_ct(model, meta, ct, device))
            per_model[name]["times"].append(time.perf_counter() - t0)
            per_model[name]["rows"].append({**dice_per_class(pred, truth), **hd95_per_class(pred, truth, spacing_zyx)})
    table = []
    for name, (model, _) in models.items():
        rows = per_model[name]["rows"]
        row = {"model": name, "params": count_parameters(model), "infer_s": float(np.median(per_model[name]["times"]))}
        for key in TABLE_COLUMNS[3:-1]:
            values = [r[key] for r in rows if np.isfinite(r[key])]
            row[key] = float(np.mean(values)) if values else float("nan")
        row["cases"] = len(rows)
        table.append(row)
    return table


def write_table(table: list[dict], out_dir: Path, notes: list[str] | None = None) -> str:
    """``evaluation.csv``, ``evaluation.json`` and ``evaluation.md`` in ``out_dir`` (one row per model; the
    markdown gives ``notes``, e.g. what a control row is, under the table); returns the markdown."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "evaluation.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TABLE_COLUMNS)
        w.writeheader()
        w.writerows(table)
    (out_dir / "evaluation.json").write_text(json.dumps(table, indent=1))
    fmt = lambda k, v: f"{v:,}" if k == "params" else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(fmt(k, r[k]) for k in TABLE_COLUMNS) + " |" for r in table]
    md = "\n".join(lines) + "\n" + "".join(f"\n{note}\n" for note in notes or [])
    (out_dir / "evaluation.md").write_text(md)
    return md
