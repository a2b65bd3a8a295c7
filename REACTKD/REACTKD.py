"""3D Slicer module REACTKD: HCC grade from CT (+ optional PET) and a liver/tumour segmentation.

The module, its parameter node, the widget composing the panels of ``REACTKDGui`` and a logic of thin
wrappers over ``REACTKDLib`` (Qt-free, MRML only); the ``reactkd`` core runs in separate processes (grading in
a persistent worker per model) polled from a timer, so the GUI never waits. Needs Slicer 5.10 or newer.
"""

import logging
import shutil
import sys
from pathlib import Path
from typing import Annotated

import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

from REACTKDLib.version_check import MINIMUM_PYTHON, slicer_version_problem  # plain Python: loads on Python 3.9

if sys.version_info >= MINIMUM_PYTHON:  # Slicer 5.8 runs Python 3.9, which cannot load these: its panel says why
    from REACTKDGui import install
    from REACTKDGui.batch_panel import BatchPanel
    from REACTKDGui.grading_panel import GradingPanel
    from REACTKDGui.guard import UpdateGuard
    from REACTKDGui.inputs_panel import InputsPanel
    from REACTKDGui.job_runner import JobRunner
    from REACTKDGui.model_picker_panel import ModelPickerPanel
    from REACTKDGui.segment_choice_panel import SegmentChoicePanel
    from REACTKDGui.segmentation_panel import SegmentationPanel
    from REACTKDGui.selftest import REACTKDTest  # noqa: F401 - Slicer runs the self-test as REACTKD.REACTKDTest
    from REACTKDGui.settings import TRAINED_MODELS, remember_path
    from REACTKDGui.slicer_modules import sample_data_logic, totalsegmentator_logic
    from REACTKDGui.status_line import StatusLine
    from REACTKDGui.topology_panel import TopologyPanel
    from REACTKDLib import batch, panel, results, sample_data, segmentation, topology, totalsegmentator
    from REACTKDLib.commands import MODULE_DIR
    from REACTKDLib.errors import wait_or_raise
    from REACTKDLib.inference import start_grading
    from REACTKDLib.model_picker import describe_model
    from REACTKDLib.worker import stop_all_jobs, worker_for

log = logging.getLogger("REACTKD")


def versionProblem():
    """One line when this Slicer is too old for REACT-KD (Slicer < 5.10, Python < 3.10), else None."""
    return slicer_version_problem(sys.version_info, getattr(getattr(slicer, "app", None), "applicationVersion", None))


def registerSampleData():
    """Add the phantom sample case (CT, both PETs, liver and tumour) to the Sample Data module."""
    sample_data.register_sample_data(sample_data_logic(), sample_data.sample_folder(MODULE_DIR))


class REACTKD(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "REACT-KD HCC grading"
        self.parent.categories = ["Quantification"]
        self.parent.dependencies = []
        self.parent.contributors = ["REACTKD developers"]
        self.parent.helpText = (
            "Predicts the Edmondson-Steiner grade (1/2/3) of hepatocellular carcinoma from CT (and PET when the "
            "model uses it) with a student network distilled from PET/CT teachers (REACT-KD). Select the CT, the "
            "segmentation with the liver and tumour segments and a model, then press Apply. New here? Press "
            "'Load the phantom sample case' and Apply: the shipped model is a synthetic demonstration model "
            "(it learnt from generated phantom patients), so its grades show the workflow, not a patient's "
            "tumour. Results: grade table, region table (select a region to jump to it), the region graph in "
            "3D and the attention map over the CT. Needs 3D Slicer 5.10 or newer. Research use only.")
        self.parent.acknowledgementText = (
            "Apache-2.0. REACT-KD method; models built with MONAI, POT and SimpleITK. Background processing follows "
            "the approach of MONAIAuto3DSeg (A. Lasso et al.); liver tumours of a real CT through the "
            "TotalSegmentator extension (J. Wasserthal et al.) where it is installed.")
        if versionProblem() is None:
            slicer.app.connect("startupCompleted()", registerSampleData)
            slicer.app.connect("aboutToQuit()", stop_all_jobs)


@parameterNodeWrapper
class REACTKDParameterNode:
    """Module state, saved with the scene."""

    ctVolume: vtkMRMLScalarVolumeNode
    petFdgVolume: vtkMRMLScalarVolumeNode
    petAcetateVolume: vtkMRMLScalarVolumeNode
    segmentation: vtkMRMLSegmentationNode
    liverSegmentId: str = ""
    tumorSegmentIds: list[str] = []
    modelPath: Path = Path()
    segModelPath: Path = Path()
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    overlayOpacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    showEdges: bool = True


class REACTKDWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The panel: the REACTKDGui panels, each wired to its part of the ``.ui``; this class keeps the
    parameter node and follows the scene (close) and the module (enter, exit)."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = REACTKDLogic()
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._versionProblem = None
        self._cleanups = []  # the panels that stop timers or observers when the widget goes

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/REACTKD.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self._versionProblem = versionProblem()
        if self._versionProblem:  # no panel is made (on Python 3.9 they cannot even be imported)
            self.ui.problemLabel.text, self.ui.problemLabel.visible = self._versionProblem, True
            for name in ("inputsCollapsibleButton", "applyButton", "batchButton", "displayCollapsibleButton"):
                getattr(self.ui, name).enabled = False
            return
        ui, logic, parameters = self.ui, self.logic, lambda: self._parameterNode
        self.updating = UpdateGuard()
        self.status = StatusLine(ui)
        self.jobs = JobRunner(ui, logic, self.status, self.refresh)
        self.picker = ModelPickerPanel(ui, parameters, self.status, self.updating, self.parent)
        self.inputs = InputsPanel(ui, logic, parameters, self.status, self.refresh)
        self.segments = SegmentChoicePanel(ui, parameters, self.updating, self.refresh)
        self.segmentation = SegmentationPanel(ui, logic, parameters, self.jobs, self.status, self.updating,
                                              self.refresh)
        self.topology = TopologyPanel(ui, logic, parameters, self.updating)
        self.grading = GradingPanel(ui, logic, parameters, self.jobs, self.status, self.picker, self.topology)
        self.batch = BatchPanel(ui, logic, parameters, self.jobs, self.status, self.picker)
        self._cleanups = [self.jobs, self.inputs, self.segments]
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.initializeParameterNode()

    def cleanup(self):
        for panel in self._cleanups:
            panel.cleanup()
        self.removeObservers()

    def enter(self):
        if not self._versionProblem:
            self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.refresh)

    def onSceneStartClose(self, caller, event):
        stop_all_jobs()
        if self.jobs.busy:
            self.jobs.finish()
        self.topology.show(None, None)
        self.segments.forget()  # node IDs start again in the next scene
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        """The scene's parameter node, with what is missing filled from the scene and the installed models."""
        self.setParameterNode(self.logic.getParameterNode())
        panel.fill_missing_inputs(self._parameterNode, slicer.mrmlScene)
        self.picker.fill()

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.refresh)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self.refresh)
            self.refresh()

    def refresh(self, caller=None, event=None):
        """Every panel up to date with the parameter node (it changed, a job ended, segments changed)."""
        if self._parameterNode is None or self.updating:
            return
        self.segments.to_gui()
        self.inputs.refresh()
        self.topology.refresh()
        self.picker.refresh()
        if self.jobs.busy:  # Apply is Cancel now; the other buttons wait
            self.ui.segmentButton.enabled = self.ui.batchButton.enabled = False
            return
        self.segmentation.refresh()
        self.grading.refresh()
        self.batch.refresh()


class REACTKDLogic(ScriptedLoadableModuleLogic):
    """GUI-free logic: thin wrappers over REACTKDLib with ``slicer.mrmlScene``; usable from the console."""

    def getParameterNode(self):
        return REACTKDParameterNode(super().getParameterNode())

    def ensureDependencies(self, askConfirmation: bool = True):
        """Install what the core needs, after asking (REACTKDGui.install); true when grading can start, else
        it carries the ``message`` for the panel."""
        return install.ensure_dependencies(askConfirmation)

    def addTrainedModel(self, path: str) -> None:
        """Offer a model REACTKDTrainer produced in the picker (kept in Slicer's settings)."""
        remember_path(TRAINED_MODELS, path)

    # grading

    def start(self, ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device="auto", useWorker=True):
        """Check, export and start grading in the model's persistent worker (the first call starts it) →
        ``(inputs, job, notes)`` (REACTKDLib.inference.start_grading)."""
        worker = worker_for(str(model), device) if useWorker else None
        return start_grading(slicer.mrmlScene, ctNode, segmentationNode, liverIds, tumorIds, petNodes, model,
                             lambda: slicer.util.tempDirectory("REACTKD"), device, worker)

    def importResults(self, ctNode, inputs, opacity=0.5, status=None) -> dict:
        """The finished run's outputs in the scene, the synthetic banner where the model's card says so."""
        status = status or describe_model("")
        return results.import_prediction(slicer.mrmlScene, ctNode, inputs, opacity, status.path, status.banner,
                                         status.card)

    def summary(self, out: dict) -> str:
        """The panel's line for a result, the banner first when the model is synthetic."""
        return results.result_summary(out)

    def run(self, ctNode, segmentationNode, liverIds, tumorIds, model, petNodes=None, device="auto",
            timeout=None, opacity=0.5, useWorker=True) -> dict:
        """Synchronous grading for scripts and tests (the panel starts and polls); Slicer keeps drawing."""
        inputs, process, notes = self.start(ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device,
                                            useWorker)
        try:
            wait_or_raise(process, timeout, log.info, "prediction", slicer.app.processEvents)
            return self.importResults(ctNode, inputs, opacity, describe_model(str(model)))
        finally:
            shutil.rmtree(inputs.folder, ignore_errors=True)

    def gradeTable(self, ctNode):
        """The grade table of the last result for ``ctNode``, or None."""
        return results.grade_table(slicer.mrmlScene, ctNode)

    def showTables(self, tableNode) -> None:
        """A layout with a table view showing ``tableNode``."""
        topology.show_table_layout(slicer.mrmlScene, tableNode)
        slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(tableNode.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()

    # batch

    def gradeAllLoadedCases(self, model, folder=None, device="auto", wait=True, timeout=None):
        """Grade every loaded CT with a liver segmentation in one run of the model's worker and show
        ``grades.csv`` as a table node (REACTKDLib.batch.grade_loaded_cases; Slicer keeps drawing while
        it waits); ``wait=False`` returns ``(job, out folder)`` at once (then ``loadBatchGrades(out)``).
        From the Python console: ``slicer.util.getModuleLogic("REACTKD").gradeAllLoadedCases("/runs/demo")``."""
        return batch.grade_loaded_cases(slicer.mrmlScene, model, folder or slicer.util.tempDirectory("REACTKD-batch"),
                                        device, wait, timeout,
                                        lambda text: slicer.util.showStatusMessage(f"REACT-KD batch: {text}"),
                                        slicer.app.processEvents, describe_model(str(model)))

    def startBatch(self, model, folder=None, device="auto"):
        """Start grading every loaded case at once (REACTKDLib.batch.BatchGrading, for the panel's timer)."""
        return batch.start_grading_loaded_cases(slicer.mrmlScene, str(model),
                                                folder or slicer.util.tempDirectory("REACTKD-batch"), device)

    def finishBatch(self, grading, status=None):
        """A finished batch's grades as a table node, with the model (and its banner) in a column."""
        return grading.finish(slicer.mrmlScene, status)

    def loadBatchGrades(self, out, status=None):
        """``out/grades.csv`` of a batch as a table node (REACTKDLib.batch.load_grades_table)."""
        return batch.load_grades_table(slicer.mrmlScene, out, status=status)

    # sample data and segmentation

    def loadSampleCase(self) -> dict:
        """The phantom sample case through the Sample Data module (``{"ct", "pet_fdg", "pet_acetate",
        "segmentation"}`` → node); the segmentation's reference geometry is the CT."""
        return sample_data.load_through_sample_data(sample_data_logic(), sample_data.sample_folder(MODULE_DIR))

    def segmentWithTotalSegmentator(self, ctNode, cpu=False, quality="fast"):
        """Liver and liver tumours from the TotalSegmentator extension's own logic, as segments ``liver`` and
        ``tumor`` of "<CT> liver and tumours (TotalSegmentator)" (REACTKDLib.totalsegmentator)."""
        return totalsegmentator.segment_with_totalsegmentator(totalsegmentator_logic(), slicer.mrmlScene, ctNode, cpu,
                                                              quality)

    def startSegmentation(self, ctNode, model, device="auto"):
        """Export the CT and launch ``reactkd segment`` → ``(SegmentationJob, process)``; ValueError with a
        message for the user."""
        return segmentation.start_segmentation(ctNode, model, slicer.util.tempDirectory("REACTKD-seg"), device)

    def importSegmentation(self, ctNode, job):
        """The finished run's segmentation as the CT's segmentation node (replacing a previous result)."""
        return segmentation.load_segmentation_result(slicer.mrmlScene, ctNode, job.seg_nrrd)

    def segment(self, ctNode, model, device="auto", timeout=None):
        """Synchronous segmentation for scripts and tests (the panel starts and polls)."""
        job, process = self.startSegmentation(ctNode, model, device)
        try:
            wait_or_raise(process, timeout, log.info, "segmentation", slicer.app.processEvents)
            return self.importSegmentation(ctNode, job)
        finally:
            shutil.rmtree(job.folder, ignore_errors=True)
