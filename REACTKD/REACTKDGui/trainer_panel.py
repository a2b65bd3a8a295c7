"""The REACTKDTrainer panel: the config (the shipped ones and "Other YAML file…"), why Start cannot run
yet (one line naming the input), Start ↔ Cancel, per-epoch progress polled from a timer, and a finished
run's model offered in REACT-KD's picker ("Grade with this model in REACT-KD" selects it there).
"""

from __future__ import annotations

import logging
from pathlib import Path

import qt
import slicer

from REACTKDGui.guard import UpdateGuard
from REACTKDLib.errors import USER_ERRORS, explain_failure, first_line
from REACTKDLib.trainer_panel import OTHER_CONFIG, shipped_configs, training_problems

__all__ = ["TrainerPanel", "POLL_MS"]

log = logging.getLogger("REACTKD")
POLL_MS = 500


class TrainerPanel:
    """``run``: the :class:`REACTKDLib.training.TrainingRun` while training, else None."""

    def __init__(self, ui, logic, parameters, dialog_parent):
        self.ui, self.logic, self.parameters, self.dialog_parent = ui, logic, parameters, dialog_parent
        self.run = None
        self.configs = []
        self.updating = UpdateGuard()
        self.timer = qt.QTimer()
        self.timer.setInterval(POLL_MS)
        self.timer.connect("timeout()", self.poll)
        ui.startButton.connect("clicked(bool)", self.start)
        ui.useModelButton.connect("clicked(bool)", self.use_model)
        ui.configComboBox.connect("currentIndexChanged(int)", self.on_config_chosen)

    def fill_configs(self) -> None:
        config = self.parameters().config
        shipped = shipped_configs()
        self.configs = shipped + ([config] if config and config not in shipped else [])
        with self.updating:
            combo = self.ui.configComboBox
            combo.clear()
            for name in self.configs + [OTHER_CONFIG]:
                combo.addItem(name)
            combo.setCurrentIndex(self.configs.index(config) if config in self.configs else -1)

    def on_config_chosen(self, index: int) -> None:
        p = self.parameters()
        if self.updating or p is None:
            return
        if index >= len(self.configs):  # "Other YAML file…"
            path = qt.QFileDialog.getOpenFileName(self.dialog_parent, "Choose an experiment config", "",
                                                  "YAML (*.yaml *.yml)")
            if path:
                p.config = str(path)
            self.fill_configs()
            return
        p.config = self.configs[index]

    def refresh(self, caller=None, event=None) -> None:
        """Start is enabled when config, output folder and manifest can be used; else the first reason shows."""
        p = self.parameters()
        if p is None or self.run is not None:
            return
        problems = training_problems(p.config, p.outputFolder, p.manifestPath)
        self.ui.startButton.enabled = not problems
        self.ui.startButton.toolTip = "\n".join(problems) or "Train (or resume) every fold into the output folder."
        if problems:
            self.ui.statusLabel.text = problems[0]

    def log(self, text: str) -> None:
        self.ui.logText.appendPlainText(text)
        log.info(text)

    def start(self) -> None:
        """Start (or resume) training; Cancel while it runs."""
        if self.run is not None:
            self.log("Cancelling… (starting again resumes from the last completed epoch)")
            self.run.cancel()
            return
        p = self.parameters()
        try:
            outcome = slicer.util.getModuleLogic("REACTKD").ensureDependencies()
            if not outcome:
                self.ui.statusLabel.text = getattr(outcome, "message", "") or "The packages REACT-KD needs are missing."
                return
            self.run = self.logic.startTraining(p.config, str(p.outputFolder), p.device, str(p.manifestPath))
        except USER_ERRORS as err:
            self.ui.statusLabel.text = first_line(err)
            self.log(str(err))
            return
        ui = self.ui
        ui.useModelButton.enabled = False
        ui.startButton.text, ui.startButton.enabled = "Cancel", True
        ui.inputsCollapsibleButton.enabled = False
        ui.progressBar.visible = True
        ui.progressBar.setRange(0, 1000)
        ui.progressBar.setValue(0)
        ui.statusLabel.text = f"Training into {p.outputFolder}…"
        self.timer.start()

    def poll(self) -> None:
        """The timer's slot: progress and log lines; a run that ended says how in the status line."""
        run = self.run
        if run is None:
            return
        before = (run.fraction, run.text)
        for line in run.poll():
            self.log(line)
        if (run.fraction, run.text) != before:
            self.ui.progressBar.setValue(int(1000 * run.fraction))
            self.ui.statusLabel.text = run.text
        if not run.running:
            self._finish(run)

    def stop(self) -> None:
        """The scene closes: the run stops (starting again resumes it)."""
        if self.run is not None:
            self.run.cancel()
            self.poll()

    def cleanup(self) -> None:
        if self.run is not None:
            self.run.cancel()
        self.timer.stop()

    def use_model(self) -> None:
        """Select the finished run in REACT-KD's picker and show that module."""
        slicer.util.getModuleLogic("REACTKD").getParameterNode().modelPath = Path(str(self.parameters().outputFolder))
        slicer.util.selectModule("REACTKD")

    def _finish(self, run) -> None:
        self.timer.stop()
        self.run = None
        self.ui.startButton.text = "Start training"
        self.ui.inputsCollapsibleButton.enabled = True
        self.ui.progressBar.visible = False
        process = run.process
        if process.cancelled:
            self.ui.statusLabel.text = "Cancelled; Start resumes from the last completed epoch."
        elif process.returncode == 0:
            self.ui.statusLabel.text = self.logic.offerModel(str(run.out))
            self.ui.useModelButton.enabled = bool(run.students())
        else:
            self.ui.statusLabel.text = explain_failure(process.lines, process.returncode, False, "training")
            log.error("REACTKD training failed (exit %s):\n%s", process.returncode, "\n".join(process.lines[-200:]))
        self.refresh()
