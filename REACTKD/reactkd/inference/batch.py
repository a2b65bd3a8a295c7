"""Grade every case of a manifest with a run's fold ensemble into one folder.

``OUT/<case>/prediction.json`` and ``attention.nii.gz`` per case (as ``reactkd predict`` writes for one),
and ``OUT/grades.csv``: one row per manifest case with its grade, probabilities, uncertainty, domain
warnings and per-node values (``node{i}_kind``, ``node{i}_volume_ml``, ``node{i}_attention``). Resumable:
a case whose ``prediction.json`` exists is not graded again, and ``grades.csv`` is rebuilt from the case
files each time. A case that fails is reported (one line, and ``status`` in the CSV) and skipped; the
batch goes on. ``OUT/batch.json`` names the model, so a folder graded by another model is refused.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import SimpleITK as sitk

from reactkd import GRADES
from reactkd.cohort.manifest import CaseRecord
from reactkd.inference.ensemble import Ensemble, predict_with_ensemble
from reactkd.utils.atomic import atomic_outputs, atomic_path, atomic_write_text

__all__ = ["grade_manifest", "write_grades_csv", "write_case_outputs", "case_folder_name", "BatchSummary", "CSV_NAME"]

CSV_NAME = "grades.csv"


@dataclass
class BatchSummary:
    graded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    csv: Path | None = None


def case_folder_name(case_id: str) -> str:
    """A file-system-safe folder name for a case id (anything but letters, digits, ``.-_`` → ``_``)."""
    return re.sub(r"[^\w.-]", "_", case_id) or "_"


def write_case_outputs(folder: Path, result: dict, attention: sitk.Image) -> None:
    """``attention.nii.gz`` and ``prediction.json`` (the marker of a finished case) as one set: both written
    beside their names and renamed, the old marker removed first and the new one renamed last, so a
    complete-looking ``prediction.json`` always comes with its own attention map."""
    with atomic_outputs([folder / "attention.nii.gz"], folder / "prediction.json") as tmp:
        sitk.WriteImage(attention, str(tmp[folder / "attention.nii.gz"]), useCompression=True)
        tmp[folder / "prediction.json"].write_text(json.dumps(result, indent=1))


def _claim(out: Path, ensemble: Ensemble) -> None:
    """Write or check ``OUT/batch.json``: one folder holds the grades of one model."""
    out.mkdir(parents=True, exist_ok=True)
    marker = out / "batch.json"
    model = str(Path(ensemble.source).resolve())
    if marker.is_file():
        claimed = json.loads(marker.read_text()).get("model")
        if claimed != model:
            raise ValueError(f"--out {out} holds grades by another model ({claimed}); "
                             f"choose another folder (nothing in it was changed).")
        return
    if any(p for p in out.iterdir() if not p.name.startswith(".")):
        raise ValueError(f"--out {out} is not empty and holds no batch of grades; choose another folder.")
    atomic_write_text(marker, json.dumps({"model": model, "members": len(ensemble.members)}))


def grade_manifest(ensemble: Ensemble, records: list[CaseRecord], out: str | os.PathLike,
                   device: str = "cpu", log=print, precision: str = "fp32") -> BatchSummary:
    """Grade ``records`` into ``out`` (see the module docstring); returns what was graded, skipped, failed.
    ``precision``: as for :func:`~reactkd.inference.ensemble.predict_with_ensemble`.

    Raises:
        ValueError: ``out`` belongs to another model or to something else, or two case ids share a folder.
    """
    out = Path(out)
    folders = {r.case_id: case_folder_name(r.case_id) for r in records}
    if len(set(folders.values())) != len(folders):
        raise ValueError("case ids that differ only in characters unsafe for folder names would share a folder.")
    _claim(out, ensemble)
    summary = BatchSummary()
    n = len(records)
    for i, record in enumerate(records, start=1):
        folder = out / folders[record.case_id]
        if (folder / "prediction.json").is_file():
            summary.skipped.append(record.case_id)
            log(f"[{i}/{n}] {record.case_id}: done before, skipped")
            continue
        try:
            result, attention = predict_with_ensemble(ensemble, record.load(), device, precision)
            result["case_id"], result["patient_id"] = record.case_id, record.patient_id
            write_case_outputs(folder, result, attention)
        except Exception as err:  # a bad case must not stop the batch; it is named and skipped
            message = str(err).splitlines()[0] if str(err) else type(err).__name__
            summary.failed[record.case_id] = message
            log(f"[{i}/{n}] {record.case_id}: FAILED, skipped: {message}")
            continue
        summary.graded.append(record.case_id)
        u = result["uncertainty"]
        grade = str(result["grade"])
        log(f"[{i}/{n}] {record.case_id}: grade {result['grade']} (p {result['probabilities'][grade]:.2f}"
            f" ± {u['probability_std'][grade]:.2f}, agreement {u['agreement']:.2f})"
            + (f"; {len(result['domain_warnings'])} warning(s)" if result["domain_warnings"] else ""))
    summary.csv = write_grades_csv(out, records, folders, summary.failed)
    return summary


def write_grades_csv(out: Path, records: list[CaseRecord], folders: dict[str, str], failed: dict[str, str]) -> Path:
    """``OUT/grades.csv`` from the case files, in manifest order."""
    results = {}
    for r in records:
        path = out / folders[r.case_id] / "prediction.json"
        if path.is_file():
            results[r.case_id] = json.loads(path.read_text())
    max_nodes = max((len(res["nodes"]) for res in results.values()), default=0)
    columns = ["case_id", "patient_id", "status", "true_grade", "grade", *[f"p_G{g}" for g in GRADES],
               *[f"std_G{g}" for g in GRADES], "agreement", "entropy", "members", "calibrated", "domain_warnings",
               "folder", "n_nodes"]
    columns += [f"node{i}_{k}" for i in range(max_nodes) for k in ("kind", "volume_ml", "attention")]
    rows = []
    for r in records:
        row = {"case_id": r.case_id, "patient_id": r.patient_id, "true_grade": r.grade if r.grade else ""}
        res = results.get(r.case_id)
        if res is None:
            row["status"] = f"failed: {failed[r.case_id]}" if r.case_id in failed else "not graded"
            rows.append(row)
            continue
        u = res["uncertainty"]
        row.update(status="ok", grade=res["grade"], agreement=u["agreement"], entropy=u["entropy"],
                   members=u["members"], calibrated=u["calibrated"], folder=folders[r.case_id],
                   domain_warnings=" | ".join(res["domain_warnings"]), n_nodes=len(res["nodes"]))
        for g in GRADES:
            row[f"p_G{g}"], row[f"std_G{g}"] = res["probabilities"][str(g)], u["probability_std"][str(g)]
        for i, node in enumerate(res["nodes"]):
            row.update({f"node{i}_kind": node["kind"], f"node{i}_volume_ml": node["volume_ml"],
                        f"node{i}_attention": node["attention"]})
        rows.append(row)

    target = out / CSV_NAME
    with atomic_path(target) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(rows)
    return target
