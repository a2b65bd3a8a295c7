"""Apply: grade the selected study in the model's persistent worker (the button is Cancel while a job
runs), and the result in the panel — the summary line, the synthetic banner, the Regions table, the
graph edges as chosen and the result tables in a layout with a table view.
"""

from __future__ import annotations

from REACTKDLib.jobs import GRADE, PanelJob
from REACTKDLib.panel import apply_problems

__all__ = ["GradingPanel"]


class GradingPanel:
    def __init__(self, ui, logic, parameters, jobs, status_line, picker, topology):
        self.ui, self.logic, self.parameters, self.jobs = ui, logic, parameters, jobs
        self.status_line, self.picker, self.topology = status_line, picker, topology
        ui.applyButton.connect("clicked(bool)", self.apply)
        jobs.finishers[GRADE] = self.finish

    def refresh(self) -> None:
        """Apply is enabled when the inputs and the model can be graded; otherwise the first reason is the
        panel's line (else the last run's problem stays)."""
        p = self.parameters()
        problems = apply_problems(p.ctVolume, p.segmentation, p.liverSegmentId, self.picker.model_status)
        self.ui.applyButton.enabled = not problems
        self.ui.applyButton.toolTip = "\n".join(problems) or "Grade the selected study."
        self.status_line.show(problems[0] if problems else self.status_line.failure)

    def apply(self) -> None:
        """Apply, or Cancel while a job runs."""
        if self.jobs.busy:
            self.jobs.cancel()
            return
        p = self.parameters()
        self.ui.resultLabel.text = ""

        def start():
            pets = {"fdg": p.petFdgVolume, "acetate": p.petAcetateVolume}
            inputs, handle, notes = self.logic.start(p.ctVolume, p.segmentation, [p.liverSegmentId],
                                                     list(p.tumorSegmentIds), pets, str(p.modelPath), p.device)
            for note in notes + inputs.warnings:
                self.status_line.log(note)
            self.jobs.start(PanelJob(GRADE, handle, p.ctVolume, inputs, self.picker.model_status))

        self.jobs.start_guarded("grading", start)

    def finish(self, job) -> None:
        p = self.parameters()
        self.ui.progressBar.setFormat("Loading results…")
        out = self.logic.importResults(job.ct, job.inputs, p.overlayOpacity, job.status)
        self.ui.resultLabel.text = self.logic.summary(out)
        self.status_line.log(self.ui.resultLabel.text)
        self.status_line.banner(out["banner"])
        self.topology.show(job.ct, out["prediction"])
        self.topology.show_edges(job.ct)
        self.logic.showTables(out["grades"])
