"""The one job the REACTKD panel runs at a time — grading a case, a batch, a segmentation
(:class:`REACTKDLib.jobs.PanelJob`). While it runs, Apply is its Cancel button, the inputs are locked, a
progress bar runs and a timer polls the job, so the GUI never waits. When it ends, the finisher the
panel registered for its kind puts the results in the scene; a failure or a cancel becomes one line in
the panel and the full output goes to the log.
"""

from __future__ import annotations

import logging
import shutil

import qt
import slicer

from REACTKDLib.errors import USER_ERRORS, explain_failure
from REACTKDLib.jobs import TITLES

__all__ = ["JobRunner", "POLL_MS"]

log = logging.getLogger("REACTKD")
POLL_MS = 250


class JobRunner:
    """``start(job)``, ``cancel()``, ``busy``; ``finishers[kind](job)`` imports a finished job's results.
    ``on_idle()`` runs when a job has ended (the widget brings its buttons up to date)."""

    def __init__(self, ui, logic, status_line, on_idle):
        self.ui, self.logic, self.status_line, self.on_idle = ui, logic, status_line, on_idle
        self.job = None
        self.finishers = {}
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.connect("timeout()", self.poll)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start_guarded(self, what: str, start) -> None:
        """Run ``start()`` once the core's packages are there (installing them asks first); a bad input
        becomes one line in the panel, anything else an error dialog. Nothing in the scene is touched."""
        self.status_line.report("")
        try:
            with slicer.util.tryWithErrorDisplay(f"REACT-KD could not start the {what}.", waitCursor=True):
                try:
                    outcome = self.logic.ensureDependencies()
                    if not outcome:
                        message = getattr(outcome, "message", "") or "The packages REACT-KD needs are missing."
                        self.status_line.report(message)
                        return
                    start()
                except USER_ERRORS as err:
                    self.status_line.log(str(err))
                    self.status_line.report(str(err))
        except Exception:  # noqa: BLE001 - shown by tryWithErrorDisplay; the panel stays usable
            log.exception("REACTKD: %s", what)

    def start(self, job) -> None:
        self.job = job
        self._show_running(job)
        self.timer.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.status_line.log("Cancelling…")
            self.job.handle.cancel()

    def poll(self) -> None:
        """The timer's slot: new output to the progress bar and the log; a job that ended is finished."""
        job = self.job
        if job is None:
            return
        for fraction, text in job.read():
            if fraction is not None and job.steps:
                self.ui.progressBar.setValue(int(100 * fraction))
            if text:
                self.status_line.log(text)
        if not job.running:
            self.finish()

    def finish(self) -> None:
        """End the job now (it ended, or the scene closes): its results into the scene, or its failure in words."""
        job, self.job = self.job, None
        self.timer.stop()
        try:
            for _, text in job.read():
                if text:
                    self.status_line.log(text)
            if job.has_results:
                self.finishers[job.kind](job)
            else:
                self._report_failure(job)
        except USER_ERRORS as err:
            self.status_line.log(str(err))
            self.status_line.report(str(err))
        finally:
            if job.scratch_folder is not None:
                shutil.rmtree(job.scratch_folder, ignore_errors=True)
            self._show_idle()

    def cleanup(self) -> None:
        """The widget goes: a running job is cancelled, the timer stops."""
        if self.job is not None:
            self.job.handle.cancel()
        self.timer.stop()

    def _report_failure(self, job) -> None:
        process = job.process
        message = explain_failure(process.lines, process.returncode, process.cancelled, job.what)
        self.status_line.log(message)
        if not process.cancelled:
            log.error("REACTKD %s failed (exit %s):\n%s", job.what, process.returncode, "\n".join(process.lines))
            self.status_line.report(message)

    def _show_running(self, job) -> None:
        ui = self.ui
        ui.applyButton.text, ui.applyButton.toolTip = "Cancel", "Cancel the running job."
        ui.applyButton.enabled = True  # Apply is the Cancel button, whatever the inputs say
        ui.batchButton.enabled = ui.segmentButton.enabled = False
        ui.inputsCollapsibleButton.enabled = False
        ui.progressBar.visible = True
        ui.progressBar.setRange(0, job.steps)  # one case: a busy bar
        ui.progressBar.setValue(0)
        ui.progressBar.setFormat(TITLES[job.kind] + (" %p%" if job.steps else ""))

    def _show_idle(self) -> None:
        ui = self.ui
        ui.applyButton.text, ui.applyButton.toolTip = "Apply", "Grade the selected study."
        ui.inputsCollapsibleButton.enabled = True
        ui.progressBar.visible = False
        self.on_idle()
