"""A running job of the REACTKD panel (grading one case, a batch, a segmentation) and what each of its
output lines means for the progress bar and the log, without Qt.

The panel polls :attr:`PanelJob.handle` (a :class:`~REACTKDLib.process.BackgroundProcess`, a
:class:`~REACTKDLib.worker.WorkerJob`, or a :class:`~REACTKDLib.batch.BatchGrading` around one) from a
timer; :meth:`PanelJob.read` turns new lines into ``(fraction or None, text for the log or None)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from REACTKDLib.batch import parse_batch_progress
from REACTKDLib.segmentation import parse_segment_progress

__all__ = ["PanelJob", "GRADE", "SEGMENT", "BATCH", "TITLES"]

GRADE, SEGMENT, BATCH = "grade", "segment", "batch"
TITLES = {GRADE: "Grading…", SEGMENT: "Segmenting liver and tumours…", BATCH: "Grading all loaded cases…"}
WHAT = {GRADE: "prediction", SEGMENT: "segmentation", BATCH: "batch grading"}


@dataclass
class PanelJob:
    """``kind`` (grade, segment, batch), the polled ``handle``, the CT it is for, and what the job's
    finishing step needs (``inputs``: the exported files or the batch's output folder; ``status``: the
    model's :class:`~REACTKDLib.model_picker.ModelStatus`)."""

    kind: str
    handle: Any
    ct: Any = None
    inputs: Any = None
    status: Any = None
    fraction: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def what(self) -> str:
        return WHAT[self.kind]

    @property
    def steps(self) -> int:
        """The progress bar's maximum: 0 (busy bar) for one case, 100 otherwise."""
        return 0 if self.kind == GRADE else 100

    def read(self) -> list[tuple[float | None, str | None]]:
        """New lines as ``(fraction done or None, log text or None)``; never blocks."""
        out = []
        for line in self.handle.poll():
            if self.kind == SEGMENT:
                fraction = parse_segment_progress(line)
                if fraction is not None:  # the window-by-window bar would flood the log
                    self.fraction = fraction
                    out.append((fraction, None))
                    continue
            elif self.kind == BATCH:
                progress = parse_batch_progress(line)
                if progress is not None:
                    self.fraction = progress[0]
                    out.append((progress[0], f"{100 * progress[0]:.0f}% {progress[1]}"))
                    continue
            out.append((None, line))
        return out

    @property
    def process(self):
        """What ran: the object with ``lines``, ``returncode`` and ``cancelled`` (a batch's worker job)."""
        return getattr(self.handle, "job", self.handle)

    @property
    def running(self) -> bool:
        return self.handle.running

    @property
    def cancelled(self) -> bool:
        return bool(self.process.cancelled)

    @property
    def succeeded(self) -> bool:
        return self.process.returncode == 0 and not self.process.cancelled

    @property
    def has_results(self) -> bool:
        """Whether the finishing step has something to import: a run that succeeded, or a batch that was
        not cancelled (its table marks the cases that failed)."""
        return self.succeeded or (self.kind == BATCH and not self.cancelled)

    @property
    def scratch_folder(self):
        """The exported inputs' folder, removed once the job is finished (a batch keeps its output folder)."""
        return self.inputs.folder if self.kind in (GRADE, SEGMENT) and self.inputs is not None else None
