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
from pathlib import Path
from typing import Annotated

import qt
import slicer
import vtk
from slicer.parameterNodeWrapper import Choice, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest,
                                           ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

log = logging.getLogger("REACTKD")


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
    """The panel; ``self.logic`` is what ``slicer.util.getModuleLogic("REACTKDTrainer")`` returns."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = REACTKDTrainerLogic()
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._run = None  # REACTKDLib.training.TrainingRun while training
        self._configs = []
        self._updating = False
        self._timer = qt.QTimer()
        self._timer.setInterval(500)
        self._timer.connect("timeout()", self._poll)

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/REACTKDTrainer.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.startButton.connect("clicked(bool)", self.onStartButton)
        self.ui.useModelButton.connect("clicked(bool)", self.onUseModel)
        self.ui.configComboBox.connect("currentIndexChanged(int)", self._onConfigChosen)
        self.initializeParameterNode()

    def cleanup(self):
        if self._run is not None:
            self._run.cancel()
        self._timer.stop()
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._update)

    def onSceneStartClose(self, caller, event):
        if self._run is not None:  # a closed scene stops the run; starting again resumes it
            self._run.cancel()
            self._poll()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._update)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._update)
            self._fillConfigs()
            self._update()

    def _fillConfigs(self):
        from REACTKDLib.trainer_panel import OTHER_CONFIG, shipped_configs

        config = self._parameterNode.config
        self._configs = shipped_configs() + ([config] if config and config not in shipped_configs() else [])
        self._updating = True
        try:
            self.ui.configComboBox.clear()
            for name in self._configs + [OTHER_CONFIG]:
                self.ui.configComboBox.addItem(name)
            self.ui.configComboBox.setCurrentIndex(self._configs.index(config) if config in self._configs else -1)
        finally:
            self._updating = False

    def _onConfigChosen(self, index):
        if self._updating or self._parameterNode is None:
            return
        if index >= len(self._configs):  # "Other YAML file…"
            path = qt.QFileDialog.getOpenFileName(self.parent, "Choose an experiment config", "", "YAML (*.yaml *.yml)")
            if path:
                self._parameterNode.config = str(path)
            self._fillConfigs()
            return
        self._parameterNode.config = self._configs[index]

    def _update(self, caller=None, event=None):
        p = self._parameterNode
        if p is None or self._run is not None:
            return
        from REACTKDLib.trainer_panel import training_problems

        problems = training_problems(p.config, p.outputFolder, p.manifestPath)
        self.ui.startButton.enabled = not problems
        self.ui.startButton.toolTip = "\n".join(problems) or "Train (or resume) every fold into the output folder."
        if problems:
            self.ui.statusLabel.text = problems[0]

    def _log(self, text):
        self.ui.logText.appendPlainText(text)
        log.info(text)

    def onStartButton(self):
        if self._run is not None:
            self._log("Cancelling… (starting again resumes from the last completed epoch)")
            self._run.cancel()
            return
        p = self._parameterNode
        try:
            outcome = slicer.util.getModuleLogic("REACTKD").ensureDependencies()
            if not outcome:
                self.ui.statusLabel.text = getattr(outcome, "message", "") or "The packages REACT-KD needs are missing."
                return
            self._run = self.logic.startTraining(p.config, str(p.outputFolder), p.device, str(p.manifestPath))
        except (ValueError, FileNotFoundError, RuntimeError, OSError) as err:
            self.ui.statusLabel.text = str(err).strip().splitlines()[0]
            self._log(str(err))
            return
        self.ui.useModelButton.enabled = False
        self.ui.startButton.text = "Cancel"
        self.ui.startButton.enabled = True
        self.ui.inputsCollapsibleButton.enabled = False
        self.ui.progressBar.visible = True
        self.ui.progressBar.setRange(0, 1000)
        self.ui.progressBar.setValue(0)
        self.ui.statusLabel.text = f"Training into {p.outputFolder}…"
        self._timer.start()

    def _poll(self):
        run = self._run
        if run is None:
            return
        before = (run.fraction, run.text)
        for line in run.poll():
            self._log(line)
        if (run.fraction, run.text) != before:
            self.ui.progressBar.setValue(int(1000 * run.fraction))
            self.ui.statusLabel.text = run.text
        if run.running:
            return
        self._timer.stop()
        self._run = None
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
            from REACTKDLib.errors import explain_failure

            self.ui.statusLabel.text = explain_failure(process.lines, process.returncode, False, "training")
            log.error("REACTKD training failed (exit %s):\n%s", process.returncode, "\n".join(process.lines[-200:]))
        self._update()

    def onUseModel(self):
        out = str(self._parameterNode.outputFolder)
        reactkd = slicer.util.getModuleLogic("REACTKD")
        reactkd.getParameterNode().modelPath = Path(out)
        slicer.util.selectModule("REACTKD")


class REACTKDTrainerLogic(ScriptedLoadableModuleLogic):
    """Thin wrapper over ``REACTKDLib.training`` (shipped in the REACTKD module's folder)."""

    def getParameterNode(self):
        return REACTKDTrainerParameterNode(super().getParameterNode())

    @staticmethod
    def commandLine(*args: str) -> list:
        """The command that runs ``reactkd`` with Slicer's Python in a separate process."""
        from REACTKDLib.commands import reactkd_command

        return reactkd_command(*args)

    def startTraining(self, config: str, out: str, device: str = "auto", manifest: str = "", overrides=None):
        """Start (or resume) training at once; returns the running REACTKDLib.training.TrainingRun (the panel
        polls it: ``poll()``, ``fraction``, ``text``, ``cancel()``).

        Raises:
            ValueError: a config, output folder or manifest that cannot be used (the message says which).
        """
        from REACTKDLib.trainer_panel import training_overrides, training_problems
        from REACTKDLib.training import start_training_run

        problems = training_problems(config, out, manifest)
        if problems:
            raise ValueError(problems[0])
        return start_training_run(config, out, device, training_overrides(manifest) + list(overrides or []))

    def offerModel(self, out: str) -> str:
        """Offer a finished run in REACT-KD's model picker; returns the panel's line."""
        from REACTKDLib.trainer_panel import trained_model

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
        from REACTKDLib.training import config_folds, run_blocking, start_training

        process = start_training(config, out, device, overrides, report)
        if not wait:
            return process
        return run_blocking(process, config_folds(config, overrides), progress or self._showProgress, timeout,
                            self._processEvents())

    def evaluate(self, run: str, *extra: str, wait: bool = True, progress=None, timeout=None):
        """``reactkd evaluate --run RUN [extra…]`` (e.g. ``"--withhold", "pet"``)."""
        from REACTKDLib.training import run_blocking, start_evaluation

        process = start_evaluation(run, *extra)
        return run_blocking(process, None, progress or self._showProgress, timeout, self._processEvents()) if wait else process

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


class REACTKDTrainerTest(ScriptedLoadableModuleTest):
    """In-Slicer tests: a test that cannot run says so (``skipTest``) instead of passing."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        from REACTKDLib.selftest import run_tests

        run_tests(self, [self.test_logic_through_get_module_logic, self.test_progress_parsing,
                         self.test_panel_refuses_bad_inputs, self.test_tiny_training_cancel_and_resume])

    def test_logic_through_get_module_logic(self):
        logic = slicer.util.getModuleLogic("REACTKDTrainer")
        self.assertIsInstance(logic, REACTKDTrainerLogic)
        self.assertEqual(logic.commandLine("--version")[-2:], ["reactkd", "--version"])

    def test_progress_parsing(self):
        from REACTKDLib.commands import parse_training_progress

        fraction, text = parse_training_progress("fold 1 student 2/4: 50%", 2)
        self.assertAlmostEqual(fraction, (3 + 1 / 4) / 4)
        self.assertIn("student epoch 2/4", text)

    def test_panel_refuses_bad_inputs(self):
        widget = slicer.modules.reactkdtrainer.widgetRepresentation().self()
        p = widget._parameterNode
        p.outputFolder = Path()
        widget._update()
        self.assertFalse(widget.ui.startButton.enabled)
        self.assertIn("output folder", widget.ui.statusLabel.text)

    def test_tiny_training_cancel_and_resume(self):
        from REACTKDLib.dependencies import missing_requirements

        missing = missing_requirements()
        if missing:
            self.skipTest(f"the core's packages are missing ({missing}): press Apply in REACT-KD to install them")
        run = Path(slicer.util.tempDirectory("REACTKDTrainerTest")) / "run"
        tiny = ["data.phantom_patients=8", "data.folds=2", "stage1.epochs=1", "stage2.epochs=1",
                "teacher.depths=[1,1,1,1]", "data.dose_level=native"]
        logic = REACTKDTrainerLogic()
        process = logic.train("demo-cpu", str(run), "auto", tiny, wait=False, report=False)
        from REACTKDLib.training import run_blocking

        run_blocking(process, 2, lambda f, t: process.cancel() if f is not None else None, timeout=300)
        self.assertTrue(process.cancelled)
        self.assertEqual(logic.train("demo-cpu", str(run), "auto", tiny, report=False, timeout=600), 0)
        self.assertEqual(len(list(run.glob("fold*/student/best.pt"))), 2)
        self.assertIn("offered", logic.offerModel(str(run)))
        self.delayDisplay("Tiny training (cancel, resume, offered to REACT-KD) OK")

