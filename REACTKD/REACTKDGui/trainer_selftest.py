"""The REACTKDTrainer module's in-Slicer self-test (Slicer looks it up as
``REACTKDTrainer.REACTKDTrainerTest``; the module file re-exports it). The module's logic and panel are
reached as Slicer hands them out, never by importing the module file. A test that cannot run here says
so with ``skipTest``, never passes.
"""

from __future__ import annotations

from pathlib import Path

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest

from REACTKDGui.selftest import run_tests
from REACTKDLib.commands import parse_training_progress
from REACTKDLib.dependencies import missing_requirements
from REACTKDLib.training import run_blocking

__all__ = ["REACTKDTrainerTest"]


class REACTKDTrainerTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        run_tests(self, [self.test_logic_through_get_module_logic, self.test_progress_parsing,
                         self.test_panel_refuses_bad_inputs, self.test_tiny_training_cancel_and_resume])

    def test_logic_through_get_module_logic(self):
        logic = slicer.util.getModuleLogic("REACTKDTrainer")
        self.assertEqual(type(logic).__name__, "REACTKDTrainerLogic")
        self.assertEqual(logic.commandLine("--version")[-2:], ["reactkd", "--version"])

    def test_progress_parsing(self):
        fraction, text = parse_training_progress("fold 1 student 2/4: 50%", 2)
        self.assertAlmostEqual(fraction, (3 + 1 / 4) / 4)
        self.assertIn("student epoch 2/4", text)

    def test_panel_refuses_bad_inputs(self):
        widget = slicer.modules.reactkdtrainer.widgetRepresentation().self()
        widget._parameterNode.outputFolder = Path()
        widget.panel.refresh()
        self.assertFalse(widget.ui.startButton.enabled)
        self.assertIn("output folder", widget.ui.statusLabel.text)

    def test_tiny_training_cancel_and_resume(self):
        missing = missing_requirements()
        if missing:
            self.skipTest(f"the core's packages are missing ({missing}): press Apply in REACT-KD to install them")
        run = Path(slicer.util.tempDirectory("REACTKDTrainerTest")) / "run"
        tiny = ["data.phantom_patients=8", "data.folds=2", "stage1.epochs=1", "stage2.epochs=1",
                "teacher.depths=[1,1,1,1]", "data.dose_level=native"]
        logic = slicer.util.getModuleLogic("REACTKDTrainer")
        process = logic.train("demo-cpu", str(run), "auto", tiny, wait=False, report=False)
        run_blocking(process, 2, lambda f, t: process.cancel() if f is not None else None, timeout=300)
        self.assertTrue(process.cancelled)
        self.assertEqual(logic.train("demo-cpu", str(run), "auto", tiny, report=False, timeout=600), 0)
        self.assertEqual(len(list(run.glob("fold*/student/best.pt"))), 2)
        self.assertIn("offered", logic.offerModel(str(run)))
        self.delayDisplay("Tiny training (cancel, resume, offered to REACT-KD) OK")
