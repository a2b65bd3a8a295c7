"""3D Slicer module REACTKD: HCC grade from CT (+ optional PET) and a liver/tumour segmentation.

This file stays thin: MRML-facing helpers live in ``REACTKDLib`` and the ML core in the ``reactkd``
package beside it, which never imports slicer. The grading GUI (inputs, background inference with
Apply/Cancel, tables, region-graph markups, attention overlay) is built on top of this skeleton.
"""

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleTest


class REACTKD(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "REACT-KD HCC grading"
        self.parent.categories = ["Quantification"]
        self.parent.dependencies = []
        self.parent.contributors = ["REACTKD developers"]
        self.parent.helpText = (
            "Predicts the Edmondson-Steiner grade of hepatocellular carcinoma from CT with a student network "
            "distilled from PET/CT teachers (REACT-KD), and shows the liver/tumour region graph."
        )
        self.parent.acknowledgementText = "Apache-2.0. REACT-KD method; models built with MONAI, POT and SimpleITK."


class REACTKDLogic(ScriptedLoadableModuleLogic):
    """GUI-free logic; the heavy work runs in the ``reactkd`` core."""

    @staticmethod
    def coreVersion() -> str:
        import reactkd

        return reactkd.__version__


class REACTKDTest(ScriptedLoadableModuleTest):
    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_core_importable()

    def test_core_importable(self):
        self.assertTrue(REACTKDLogic.coreVersion())
