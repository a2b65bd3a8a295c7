"""3D Slicer module REACTKDTrainer: headless two-stage REACT-KD training from Slicer's Python.

It launches the core's training command as a separate process (``PythonSlicer -m reactkd ...``) and
streams its progress; the ``reactkd`` package is imported from the REACTKD module's folder.
"""

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest


class REACTKDTrainer(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "REACT-KD Trainer"
        self.parent.categories = ["Quantification"]
        self.parent.dependencies = ["REACTKD"]
        self.parent.contributors = ["REACTKD developers"]
        self.parent.helpText = "Headless two-stage REACT-KD training (teachers, then the distilled student)."
        self.parent.acknowledgementText = "Apache-2.0."
        self.parent.hidden = True  # headless: used from the Python console or PythonSlicer


class REACTKDTrainerLogic(ScriptedLoadableModuleLogic):
    @staticmethod
    def commandLine(*args: str) -> list:
        """The command that runs ``reactkd`` with Slicer's Python in a separate process."""
        import sys

        return [sys.executable, "-m", "reactkd", *args]


class REACTKDTrainerTest(ScriptedLoadableModuleTest):
    def runTest(self):
        slicer.mrmlScene.Clear()
        self.assertEqual(REACTKDTrainerLogic.commandLine("--version")[-2:], ["reactkd", "--version"])
