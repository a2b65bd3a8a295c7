"""Grade every loaded case, or a folder's manifest, in one ``reactkd predict --manifest`` request to the
model's inference worker (:mod:`REACTKDLib.worker`: the model stays loaded for the next Apply).

"Loaded cases": each segmentation node in the scene whose reference geometry is a scalar volume (the CT
it was drawn on) and that holds a liver segment (the same default choice as the module panel: a segment
named like "liver", tumours named like "tumour"/"HCC"/"lesion"). Their CT and masks are exported as for
one prediction (:func:`REACTKDLib.inference.export_inputs`) into ``folder/cases/<n>/`` and listed in
``folder/manifest.csv``; the grades land in ``folder/out/`` (``grades.csv`` and one folder per case), and
:func:`load_grades_table` shows ``grades.csv`` as a table node. A folder with a manifest of its own is
graded directly (:func:`start_batch_grading`).

The panel drives a batch from a timer: :func:`start_grading_loaded_cases` returns a
:class:`BatchGrading` at once, whose :meth:`BatchGrading.poll` gives the progress and whose
:meth:`BatchGrading.finish` shows the table. Scripts call :func:`grade_loaded_cases` (``wait=True``),
which passes ``process_events`` (``slicer.app.processEvents``) so the application keeps drawing.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

from REACTKDLib.errors import explain_failure
from REACTKDLib.inference import export_inputs
from REACTKDLib.outputs import ROLE, nodes_by_class
from REACTKDLib.results import mark_table
from REACTKDLib.segments import default_segment_choice, segment_names
from REACTKDLib.worker import WorkerJob, worker_for

__all__ = ["loaded_cases", "export_loaded_cases", "batch_args", "start_batch_grading",
           "parse_batch_progress", "load_grades_table", "BatchGrading", "start_grading_loaded_cases",
           "grade_loaded_cases", "GRADES_CSV", "BATCH_ROLE", "BATCH_FOLDER"]

log = logging.getLogger("REACTKD")
GRADES_CSV = "grades.csv"
BATCH_ROLE, BATCH_FOLDER = "batch-grades", "REACTKD.BatchFolder"
_PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (\S+): (.*)$")


def loaded_cases(scene) -> tuple[list[tuple], list[str]]:
    """``([(ct node, segmentation node, liver ids, tumour ids)], [why a segmentation was left out])``."""
    cases, skipped = [], []
    for seg in nodes_by_class(scene, "vtkMRMLSegmentationNode"):
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


def batch_args(manifest, out) -> list[str]:
    """The ``reactkd predict`` arguments of a batch (the worker adds its model and device)."""
    return ["--manifest", str(manifest), "--out", str(out)]


def start_batch_grading(model: str, manifest, out, device: str = "auto") -> WorkerJob:
    """Send ``reactkd predict --manifest`` to the model's worker (resumable: re-sending skips the cases
    already graded); returns the job at once (poll it like a background process).

    Raises:
        REACTKDLib.worker.WorkerBusyError: the worker is still grading something else.
    """
    job = worker_for(str(model), device).submit(batch_args(manifest, out))
    log.info("REACTKD: batch %s → %s (worker %s)", manifest, out, model)
    return job


def parse_batch_progress(line: str) -> tuple[float, str] | None:
    """``(fraction done, "case: what happened")`` from one output line (``[3/20] P003: grade 2 …``)."""
    m = _PROGRESS.match(line.strip())
    if not m:
        return None
    done, total = int(m[1]), max(1, int(m[2]))
    return min(done / total, 1.0), f"{m[3]}: {m[4]}"


def load_grades_table(scene, out, name: str = "REACTKD batch grades", status=None):
    """``out/grades.csv`` as a (locked) table node, read by Slicer's own table storage node. Loading the
    same folder again refreshes its table instead of adding another; the reader leaves no node behind.
    With ``status`` (the model's :class:`~REACTKDLib.model_picker.ModelStatus`) the table says which
    model graded it (:func:`REACTKDLib.results.mark_table`: a ``Model`` column, the synthetic banner).

    Raises:
        FileNotFoundError: the batch has written no ``grades.csv`` yet.
        ValueError: Slicer cannot read it as a table.
    """
    path = Path(out) / GRADES_CSV
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no grades yet (did the batch run?).")
    folder = str(Path(out).resolve())
    node = next((n for n in nodes_by_class(scene, "vtkMRMLTableNode") if n.GetAttribute(ROLE) == BATCH_ROLE
                 and n.GetAttribute(BATCH_FOLDER) == folder), None)
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    node.SetLocked(False)
    storage = scene.AddNewNodeByClass("vtkMRMLTableStorageNode")
    try:
        storage.SetFileName(str(path))
        if not storage.ReadData(node):
            raise ValueError(f"{path}: Slicer could not read it as a table.")
    finally:
        scene.RemoveNode(storage)
    node.SetAttribute(ROLE, BATCH_ROLE)
    node.SetAttribute(BATCH_FOLDER, folder)
    if status is not None:
        mark_table(node, status)
    node.SetLocked(True)
    return node


class BatchGrading:
    """A running batch for the panel's timer.

    Attributes:
        job: the worker job (``poll``/``running``/``returncode``/``cancel`` as a background process).
        out: the folder ``grades.csv`` is written to.
        skipped: why loaded segmentations were left out (one line each).
        fraction, text: the latest progress (``None``/``""`` before the first case ends).
    """

    def __init__(self, job, out, skipped: list[str] | None = None):
        self.job, self.out, self.skipped = job, Path(out), list(skipped or [])
        self.fraction: float | None = None
        self.text = ""

    def poll(self) -> list[str]:
        """New output lines (never blocks); updates :attr:`fraction` and :attr:`text`."""
        lines = self.job.poll()
        for line in lines:
            progress = parse_batch_progress(line)
            if progress is not None:
                self.fraction, self.text = progress
        return lines

    @property
    def running(self) -> bool:
        return self.job.running

    def cancel(self) -> None:
        """Stop the batch (its worker stops too; a re-run resumes with the cases not yet graded)."""
        self.job.cancel()

    def finish(self, scene, status=None):
        """The finished batch's ``grades.csv`` as a table node (failed cases say so in ``status``), marked
        with the model's ``status`` when given (:func:`load_grades_table`).

        Raises:
            RuntimeError: the batch graded nothing or was cancelled (its own words, see ``explain_failure``).
        """
        self.poll()
        code = self.job.returncode
        if self.job.cancelled or not (self.out / GRADES_CSV).is_file():
            raise RuntimeError(explain_failure(self.job.lines, code, self.job.cancelled, "batch grading"))
        if code != 0:
            log.warning("REACTKD: some cases failed (see the table's status column): %s", self.job.lines[-1:])
        return load_grades_table(scene, self.out, status=status)


def start_grading_loaded_cases(scene, model: str, folder, device: str = "auto") -> BatchGrading:
    """Export the loaded cases into ``folder`` and start grading them into ``folder/out``; returns at once.

    Raises:
        ValueError: no loaded case (see :func:`export_loaded_cases`).
        REACTKDLib.worker.WorkerBusyError: the model's worker is still grading.
    """
    cases, skipped = loaded_cases(scene)
    for reason in skipped:
        log.info("REACTKD: not graded: %s", reason)
    folder = Path(folder)
    manifest = export_loaded_cases(scene, cases, folder)
    return BatchGrading(start_batch_grading(model, manifest, folder / "out", device), folder / "out", skipped)


def grade_loaded_cases(scene, model: str, folder, device: str = "auto", wait: bool = True, timeout=None,
                       on_progress=None, process_events=None, status=None):
    """Export the loaded cases into ``folder`` and grade them into ``folder/out``. With ``wait``, return
    ``grades.csv`` as a table node (``on_progress(text)`` per case; ``process_events()`` between polls
    keeps Slicer drawing; marked with the model's ``status`` when given); without, return ``(job, out
    folder)`` at once. Cases that fail are marked in the table's ``status`` column.

    Raises:
        ValueError: no loaded case (see :func:`export_loaded_cases`).
        RuntimeError: the batch graded nothing (its own words, see ``explain_failure``).
        TimeoutError: still running after ``timeout`` seconds (cancelled).
    """
    batch = start_grading_loaded_cases(scene, model, folder, device)
    if not wait:
        return batch.job, batch.out

    def show(line: str) -> None:
        progress = parse_batch_progress(line)
        if progress is not None and on_progress is not None:
            on_progress(f"{100 * progress[0]:.0f}% {progress[1]}")

    batch.job.wait(timeout, show, process_events)
    return batch.finish(scene, status)
