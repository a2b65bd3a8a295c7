"""3D Slicer module REACTKDTrainer: two-stage REACT-KD training (teachers, then the distilled student) from
a small panel, the Python console, or without a window.

The logic runs the core's ``reactkd train`` / ``reactkd evaluate`` in a separate process (CUDA when
present), streams its progress, can be cancelled, and resumes a partial run folder — the same folder the
command line writes. The panel polls it from a timer (per-epoch progress, Start becomes Cancel) and, when
a run finishes, offers its model in REACT-KD's model picker. From the Python console::

    logic = slicer.util.getModuleLogic("REACTKDTrainer")
    logic.train("demo-cpu", "/data/runs/demo")                  # blocks (Slicer keeps drawing); resumable
    process = logic.train("paper", "/data/runs/paper", wait=False)  # returns at once; process.cancel()

Without a window: ``Slicer --no-main-window --python-script REACTKDTrainer/Resources/Scripts/reactkd_train.py
--config demo-cpu --out RUN``; without the application: ``PythonSlicer -m reactkd train …`` with the
REACTKD module folder on ``PYTHONPATH``.
"""

import logging
import sys
from pathlib import Path
from typing import Annotated

import slicer
import vtk
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from REACTKDLib.version_check import MINIMUM_PYTHON, slicer_version_problem  # plain Python: loads on Python 3.9

if sys.version_info >= MINIMUM_PYTHON:  # Slicer 5.8 runs Python 3.9, which cannot load these: its panel says why
    from REACTKDGui.trainer_panel import TrainerPanel
    from REACTKDGui.trainer_selftest import REACTKDTrainerTest  # noqa: F401 - Slicer runs REACTKDTrainer.REACTKDTrainerTest
    from REACTKDLib.commands import reactkd_command
    from REACTKDLib.trainer_panel import trained_model, training_overrides, training_problems
    from REACTKDLib.training import config_folds, run_blocking, start_evaluation, start_training, start_training_run

log = logging.getLogger("REACTKD")


def versionProblem():
    """One line when this Slicer is too old for REACT-KD (Slicer < 5.10, Python < 3.10), else None."""
    return slicer_version_problem(sys.version_info, getattr(getattr(slicer, "app", None), "applicationVersion", None))


class REACTKDTrainer(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "REACT-KD Trainer"
        self.parent.categories = ["Quantification"]
        self.parent.dependencies = ["REACTKD"]
        self.parent.contributors = ["REACTKD developers"]
        self.parent.helpText = (
            "Two-stage REACT-KD training (teachers, then the distilled student, on every patient-level fold): "
            "choose a config, optionally a manifest of your cases, and an output folder, then Start. Progress is "
            "shown per epoch; Cancel stops, Start again resumes. A finished model is offered in REACT-KD's model "
            "picker. Also from the Python console: slicer.util.getModuleLogic('REACTKDTrainer').train(…).")
        self.parent.acknowledgementText = "Apache-2.0."


@parameterNodeWrapper
class REACTKDTrainerParameterNode:
    """Trainer state, saved with the scene."""

    config: str = "demo-cpu"
    manifestPath: Path = Path()
    outputFolder: Path = Path()
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"


class REACTKDTrainerWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The panel (REACTKDGui.trainer_panel); ``self.logic`` is what ``slicer.util.getModuleLogic("REACTKDTrainer")``
    returns. This class keeps the parameter node and follows the scene (close) and the module (enter, exit)."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = REACTKDTrainerLogic()
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.panel = None

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/REACTKDTrainer.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        problem = versionProblem()
        if problem:  # no panel is made (on Python 3.9 it cannot even be imported)
            self.ui.statusLabel.text = problem
            self.ui.inputsCollapsibleButton.enabled = self.ui.startButton.enabled = False
            return
        self.panel = TrainerPanel(self.ui, self.logic, lambda: self._parameterNode, self.parent)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self):
        if self.panel is not None:
            self.panel.cleanup()
        self.removeObservers()

    def enter(self):
        if self.panel is not None:
            self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.panel.refresh)

    def onSceneStartClose(self, caller, event):
        self.panel.stop()  # a closed scene stops the run; starting again resumes it
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.panel.refresh)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.panel.refresh)
            self.panel.fill_configs()
            self.panel.refresh()


class REACTKDTrainerLogic(ScriptedLoadableModuleLogic):
    """Thin wrapper over ``REACTKDLib.training`` (shipped in the REACTKD module's folder)."""

    def getParameterNode(self):
        return REACTKDTrainerParameterNode(super().getParameterNode())

    @staticmethod
    def commandLine(*args: str) -> list:
        """The command that runs ``reactkd`` with Slicer's Python in a separate process."""
        return reactkd_command(*args)

    def startTraining(self, config: str, out: str, device: str = "auto", manifest: str = "", overrides=None):
        """Start (or resume) training at once; returns the running REACTKDLib.training.TrainingRun (the panel
        polls it: ``poll()``, ``fraction``, ``text``, ``cancel()``).

        Raises:
            ValueError: a config, output folder or manifest that cannot be used (the message says which).
        """
        problems = training_problems(config, out, manifest)
        if problems:
            raise ValueError(problems[0])
        return start_training_run(config, out, device, training_overrides(manifest) + list(overrides or []))

    def offerModel(self, out: str) -> str:
        """Offer a finished run in REACT-KD's model picker; returns the panel's line."""
        if trained_model(out) is None:
            return f"Training ended, but {out} holds no fold students: see the log."
        slicer.util.getModuleLogic("REACTKD").addTrainedModel(out)
        return f"Done: the model in {out} is offered in REACT-KD's model picker."

    def train(self, config: str, out: str, device: str = "auto", overrides=None, wait: bool = True,
              progress=None, report: bool = True, timeout=None):
        """Run (or resume) two-stage training into ``out``.

        Args:
            config: shipped config name (``demo-cpu``, ``paper``) or a YAML path.
            out: run folder; re-running resumes from the last completed epoch.
            device: ``auto`` (CUDA when torch sees a GPU), ``cpu``, ``cuda`` or ``cuda:N``.
            overrides: ``["stage1.epochs=2", …]`` as ``reactkd train --set``.
            wait: block until done (return the exit code; Slicer keeps drawing) or return the running
                process at once.
            progress: ``progress(fraction or None, text)``; default logs and shows in the status bar.
        """
        process = start_training(config, out, device, overrides, report)
        if not wait:
            return process
        return run_blocking(process, config_folds(config, overrides), progress or self._showProgress, timeout,
                            self._processEvents())

    def evaluate(self, run: str, *extra: str, wait: bool = True, progress=None, timeout=None):
        """``reactkd evaluate --run RUN [extra…]`` (e.g. ``"--withhold", "pet"``)."""
        process = start_evaluation(run, *extra)
        if not wait:
            return process
        return run_blocking(process, None, progress or self._showProgress, timeout, self._processEvents())

    @staticmethod
    def _processEvents():
        """``slicer.app.processEvents`` (the application keeps drawing while a call waits), where there is an app."""
        app = getattr(slicer, "app", None)
        return getattr(app, "processEvents", None)

    @staticmethod
    def _showProgress(fraction, text):
        line = f"{100 * fraction:5.1f}% {text}" if fraction is not None else text
        log.info(line)
        print(line)
        if getattr(slicer, "app", None) is not None and fraction is not None:
            slicer.util.showStatusMessage(f"REACT-KD training: {line}")
            slicer.app.processEvents()
