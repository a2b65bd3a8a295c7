"""Grade every loaded case, or a folder's manifest, in one background ``reactkd predict --manifest`` run.

"Loaded cases": each segmentation node in the scene whose reference geometry is a scalar volume (the CT
it was drawn on) and that holds a liver segment (the same default choice as the module panel: a segment
named like "liver", tumours named like "tumour"/"HCC"/"lesion"). Their CT and masks are exported as for
one prediction (:func:`REACTKDLib.inference.export_inputs`) into ``folder/cases/<n>/`` and listed in
``folder/manifest.csv``; the grades land in ``folder/out/`` (``grades.csv`` and one folder per case), and
:func:`load_grades_table` shows ``grades.csv`` as a table node. A folder with a manifest of its own is
graded directly (:func:`start_batch_grading`).
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from REACTKDLib.commands import child_environment, reactkd_command, resolve_device
from REACTKDLib.errors import explain_failure
from REACTKDLib.inference import export_inputs
from REACTKDLib.process import BackgroundProcess
from REACTKDLib.segments import default_segment_choice, segment_names

__all__ = ["loaded_cases", "export_loaded_cases", "batch_command", "start_batch_grading", "parse_batch_progress",
           "load_grades_table", "grade_loaded_cases", "GRADES_CSV"]

log = logging.getLogger("REACTKD")
GRADES_CSV = "grades.csv"
_PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (\S+): (.*)$")


def loaded_cases(scene) -> tuple[list[tuple], list[str]]:
    """``([(ct node, segmentation node, liver ids, tumour ids)], [why a segmentation was left out])``."""
    cases, skipped = [], []
    for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode")):
        seg = scene.GetNthNodeByClass(i, "vtkMRMLSegmentationNode")
        ct = seg.GetNodeReference(seg.GetReferenceImageGeometryReferenceRole())
        if ct is None or not ct.IsA("vtkMRMLScalarVolumeNode") or ct.IsA("vtkMRMLLabelMapVolumeNode"):
            skipped.append(f"{seg.GetName()}: no CT volume as its reference geometry")
            continue
        liver, tumors = default_segment_choice(segment_names(seg))
        if not liver:
            skipped.append(f"{seg.GetName()}: no segment named like 'liver'")
            continue
        cases.append((ct, seg, [liver], tumors))
    return cases, skipped


def export_loaded_cases(scene, cases: list[tuple], folder) -> Path:
    """Export each case's CT and masks and write ``folder/manifest.csv`` (grade left empty); returns its path.

    Raises:
        ValueError: no cases, or a case whose segments do not fit its CT (named).
    """
    if not cases:
        raise ValueError("No loaded case to grade: load a CT with a segmentation holding a 'liver' segment.")
    folder = Path(folder)
    rows, used = [], set()
    for n, (ct, seg, liver, tumors) in enumerate(cases):
        case_id = re.sub(r"[^\w.-]", "_", ct.GetName()) or f"case{n}"
        if case_id in used:
            case_id = f"{case_id}_{n}"
        used.add(case_id)
        try:
            inputs = export_inputs(scene, ct, seg, liver, tumors, folder / "cases" / f"{n:03d}")
        except ValueError as err:
            raise ValueError(f"{ct.GetName()} / {seg.GetName()}: {err}") from err
        rows.append({"patient_id": case_id, "case_id": case_id, "grade": "", "ct": str(inputs.ct),
                     "liver_mask": str(inputs.liver), "tumor_mask": str(inputs.tumor) if inputs.tumor else ""})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return manifest


def batch_command(model: str, manifest: str, out: str, device: str = "cpu") -> list[str]:
    return reactkd_command("predict", "--model", str(model), "--manifest", str(manifest), "--out", str(out),
                           "--device", device)


def start_batch_grading(model: str, manifest, out, device: str = "auto") -> BackgroundProcess:
    """Launch ``reactkd predict --manifest`` (resumable: re-launching skips the cases already graded)."""
    device = resolve_device(device)
    command = batch_command(model, str(manifest), str(out), device)
    log.info("REACTKD: %s", " ".join(command))
    return BackgroundProcess(command, env=child_environment(device))


def parse_batch_progress(line: str) -> tuple[float, str] | None:
    """``(fraction done, "case: what happened")`` from one output line (``[3/20] P003: grade 2 …``)."""
    m = _PROGRESS.match(line.strip())
    if not m:
        return None
    done, total = int(m[1]), max(1, int(m[2]))
    return min(done / total, 1.0), f"{m[3]}: {m[4]}"


def load_grades_table(scene, out, name: str = "REACTKD batch grades"):
    """``out/grades.csv`` as a (locked) table node, read by Slicer's own table storage node.

    Raises:
        FileNotFoundError: the batch has written no ``grades.csv`` yet.
    """
    path = Path(out) / GRADES_CSV
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no grades yet (did the batch run?).")
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    storage = scene.AddNewNodeByClass("vtkMRMLTableStorageNode")
    storage.SetFileName(str(path))
    if not storage.ReadData(node):
        raise ValueError(f"{path}: Slicer could not read it as a table.")
    node.SetAttribute("REACTKD.Role", "batch-grades")
    node.SetLocked(True)
    return node


def grade_loaded_cases(scene, model: str, folder, device: str = "auto", wait: bool = True, timeout=None,
                       on_progress=None):
    """Export the loaded cases into ``folder``, grade them into ``folder/out`` in the background and, with
    ``wait``, return ``grades.csv`` as a table node (``on_progress(text)`` per case); without, return
    ``(process, out folder)`` at once. Cases that fail are marked in the table's ``status`` column.

    Raises:
        ValueError: no loaded case (see :func:`export_loaded_cases`).
        RuntimeError: the batch graded nothing (its own words, see ``explain_failure``).
    """
    cases, skipped = loaded_cases(scene)
    for reason in skipped:
        log.info("REACTKD: not graded: %s", reason)
    folder = Path(folder)
    manifest = export_loaded_cases(scene, cases, folder)
    process = start_batch_grading(model, manifest, folder / "out", device)
    if not wait:
        return process, folder / "out"

    def show(line: str) -> None:
        progress = parse_batch_progress(line)
        if progress is not None and on_progress is not None:
            on_progress(f"{100 * progress[0]:.0f}% {progress[1]}")

    code = process.wait(timeout, show)
    if not (folder / "out" / GRADES_CSV).is_file():
        raise RuntimeError(explain_failure(process.lines, code, process.cancelled, "batch grading"))
    if code != 0:
        log.warning("REACTKD: some cases failed (see the table's status column): %s", process.lines[-1:])
    return load_grades_table(scene, folder / "out")
