"""Grade all loaded cases: every loaded CT whose segmentation has a liver segment, in one run of the
model's worker on the panel's timer, into the table "REACTKD batch grades" (a case that failed is marked
in its status column), with the model and its banner in a column.
"""

from __future__ import annotations

from REACTKDLib.jobs import BATCH, PanelJob

__all__ = ["BatchPanel"]


class BatchPanel:
    def __init__(self, ui, logic, parameters, jobs, status_line, picker):
        self.ui, self.logic, self.parameters, self.jobs = ui, logic, parameters, jobs
        self.status_line, self.picker = status_line, picker
        ui.batchButton.connect("clicked(bool)", self.start)
        jobs.finishers[BATCH] = self.finish

    def refresh(self) -> None:
        status = self.picker.model_status
        self.ui.batchButton.enabled = status is not None and status.ok

    def start(self) -> None:
        if self.jobs.busy:
            return
        p = self.parameters()

        def start():
            batch = self.logic.startBatch(str(p.modelPath), device=p.device)
            for reason in batch.skipped:
                self.status_line.log(f"Not graded: {reason}")
            self.jobs.start(PanelJob(BATCH, batch, None, batch.out, self.picker.model_status))

        self.jobs.start_guarded("batch grading", start)

    def finish(self, job) -> None:
        table = self.logic.finishBatch(job.handle, job.status)
        self.status_line.log(f"Batch grades: table {table.GetName()!r} ({table.GetNumberOfRows()} cases).")
        if job.process.returncode:
            self.status_line.report("Some cases could not be graded: see the table's status column and the log.")
        self.logic.showTables(table)
