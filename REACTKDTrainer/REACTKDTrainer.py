"""3D Slicer module REACTKDTrainer: headless two-stage REACT-KD training from Slicer's Python.

The logic runs the core's ``reactkd train`` / ``reactkd evaluate`` in a separate process (CUDA when
present), streams its progress, can be cancelled, and resumes a partial run folder — the same folder the
command line writes. From the Python console::

    logic = slicer.util.getModuleLogic("REACTKDTrainer")
    logic.train("demo-cpu", "/data/runs/demo")                  # blocks, prints progress; Ctrl+C cancels
    process = logic.train("paper", "/data/runs/paper", wait=False)  # returns at once; process.cancel()

Without a window: ``Slicer --no-main-window --python-code "…logic.train(…); slicer.app.quit()"``, or with
``PythonSlicer`` import ``REACTKDLib.training`` directly (it needs no Slicer application).
"""

import logging

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest

log = logging.getLogger("REACTKD")


class REACTKDTrainer(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "REACT-KD Trainer"
        self.parent.categories = ["Quantification"]
        self.parent.dependencies = ["REACTKD"]
        self.parent.contributors = ["REACTKD developers"]
        self.parent.helpText = ("Headless two-stage REACT-KD training (teachers, then the distilled student) for the "
                                "Python console or PythonSlicer: slicer.util.getModuleLogic('REACTKDTrainer').train(…).")
        self.parent.acknowledgementText = "Apache-2.0."
        self.parent.hidden = True  # headless: used from the Python console or PythonSlicer


class REACTKDTrainerLogic(ScriptedLoadableModuleLogic):
    """Thin wrapper over ``REACTKDLib.training`` (shipped in the REACTKD module's folder)."""

    @staticmethod
    def commandLine(*args: str) -> list:
        """The command that runs ``reactkd`` with Slicer's Python in a separate process."""
        from REACTKDLib.commands import reactkd_command

        return reactkd_command(*args)

    def train(self, config: str, out: str, device: str = "auto", overrides=None, wait: bool = True,
              progress=None, report: bool = True, timeout=None):
        """Run (or resume) two-stage training into ``out``.

        Args:
            config: shipped config name (``demo-cpu``, ``paper``) or a YAML path.
            out: run folder; re-running resumes from the last completed epoch.
            device: ``auto`` (CUDA when torch sees a GPU), ``cpu``, ``cuda`` or ``cuda:N``.
            overrides: ``["stage1.epochs=2", …]`` as ``reactkd train --set``.
            wait: block until done (return the exit code) or return the running process at once.
            progress: ``progress(fraction or None, text)``; default logs and shows in the status bar.
        """
        from REACTKDLib.training import config_folds, run_blocking, start_training

        process = start_training(config, out, device, overrides, report)
        if not wait:
            return process
        return run_blocking(process, config_folds(config, overrides), progress or self._showProgress, timeout)

    def evaluate(self, run: str, *extra: str, wait: bool = True, progress=None, timeout=None):
        """``reactkd evaluate --run RUN [extra…]`` (e.g. ``"--withhold", "pet"``)."""
        from REACTKDLib.training import run_blocking, start_evaluation

        process = start_evaluation(run, *extra)
        return run_blocking(process, None, progress or self._showProgress, timeout) if wait else process

    @staticmethod
    def _showProgress(fraction, text):
        line = f"{100 * fraction:5.1f}% {text}" if fraction is not None else text
        log.info(line)
        print(line)
        if hasattr(slicer, "app") and slicer.app is not None and fraction is not None:
            slicer.util.showStatusMessage(f"REACT-KD training: {line}")
            slicer.app.processEvents()


class REACTKDTrainerTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_command_line()
        self.test_progress_parsing()
        self.test_tiny_training_cancel_and_resume()

    def test_command_line(self):
        self.assertEqual(REACTKDTrainerLogic.commandLine("--version")[-2:], ["reactkd", "--version"])

    def test_progress_parsing(self):
        from REACTKDLib.commands import parse_training_progress

        fraction, text = parse_training_progress("fold 1 student 2/4: 50%", 2)
        self.assertAlmostEqual(fraction, (3 + 1 / 4) / 4)
        self.assertIn("student epoch 2/4", text)

    def test_tiny_training_cancel_and_resume(self):
        from pathlib import Path

        from REACTKDLib.dependencies import missing_requirements

        if missing_requirements():
            self.delayDisplay(f"Skipped tiny training: missing {missing_requirements()}")
            return
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
        self.delayDisplay("Tiny training (cancel, resume) OK")
