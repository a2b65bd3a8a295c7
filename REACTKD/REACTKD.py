"""3D Slicer module REACTKD: HCC grade from CT (+ optional PET) and a liver/tumour segmentation.

This file stays thin: MRML-facing logic lives in ``REACTKDLib`` (tested with slicer-core under pytest)
and the ML core in the ``reactkd`` package beside it, which never imports slicer. Inference runs in a
separate ``PythonSlicer`` process (``reactkd predict``), polled by a timer, so the GUI never freezes and
Apply turns into Cancel while it runs. Without a liver/tumour segmentation, "Segment liver and tumours"
runs ``reactkd segment`` (a ``seg-distill`` model) the same way and selects its result for Apply.
"""

import logging
import shutil
from pathlib import Path
from typing import Annotated

import qt
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import ScriptedLoadableModule, ScriptedLoadableModuleLogic, ScriptedLoadableModuleWidget
from slicer.util import VTKObservationMixin

from REACTKDLib.errors import wait_or_raise  # plain Python (re only): safe before the core's dependencies exist

log = logging.getLogger("REACTKD")


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
            "segmentation with the liver and tumour segments and a model, then press Apply. Without a segmentation, "
            "'Segment liver and tumours' makes one with a segmentation model (reactkd seg-distill). Results: grade "
            "table, region table, the region graph in 3D and the attention map over the CT. Research use only.")
        self.parent.acknowledgementText = (
            "Apache-2.0. REACT-KD method; models built with MONAI, POT and SimpleITK. Background processing follows "
            "the approach of MONAIAuto3DSeg (A. Lasso et al.).")


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


class REACTKDWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._updatingSegments = False
        self._observedSegmentation = None
        self._job = None  # (kind "grade" | "segment", inputs or SegmentationJob, BackgroundProcess, ct node)
        self._timer = qt.QTimer()
        self._timer.setInterval(250)
        self._timer.connect("timeout()", self._poll)

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/REACTKD.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = REACTKDLogic()
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.segmentButton.connect("clicked(bool)", self.onSegmentButton)
        self.ui.liverSegmentComboBox.connect("currentIndexChanged(int)", self._segmentsFromGui)
        self.ui.tumorSegmentsList.connect("itemChanged(QListWidgetItem*)", self._segmentsFromGui)
        self.initializeParameterNode()

    def cleanup(self):
        if self._job:
            self._job[2].cancel()
        self._timer.stop()
        self.removeObservers()

    def enter(self):
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterChanged)

    def onSceneStartClose(self, caller, event):
        if self._job:
            self._job[2].cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        p = self._parameterNode
        if not p.ctVolume:
            p.ctVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
        if not p.segmentation:
            p.segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
        if not str(p.modelPath) or str(p.modelPath) == ".":
            from REACTKDLib.inference import default_model

            found = default_model()
            if found:
                p.modelPath = Path(found)
        if not str(p.segModelPath) or str(p.segModelPath) == ".":
            from REACTKDLib.segmentation import default_seg_model

            found = default_seg_model()
            if found:
                p.segModelPath = Path(found)

    def setParameterNode(self, parameterNode):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterChanged)
        self._parameterNode = parameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterChanged)
            self._onParameterChanged()

    # -- GUI state -------------------------------------------------------------------------------------

    def _onParameterChanged(self, caller=None, event=None):
        p = self._parameterNode
        if p is None:
            return
        self._segmentsToGui()
        self.logic.setOverlayOpacity(p.ctVolume, p.overlayOpacity)
        if self._job:
            self.ui.segmentButton.enabled = False
            return
        self._updateSegmentButton()
        problems = []
        if not p.ctVolume:
            problems.append("Select a CT volume.")
        if not p.segmentation:
            problems.append("Select a segmentation.")
        elif not p.liverSegmentId:
            problems.append("Select the liver segment.")
        if not str(p.modelPath) or str(p.modelPath) == ".":
            problems.append("Select a model (checkpoint or run folder).")
        self.ui.applyButton.enabled = not problems
        self.ui.applyButton.toolTip = "\n".join(problems) or "Grade the selected study."

    def _updateSegmentButton(self):
        from REACTKDLib.segmentation import offers_segmentation

        p = self._parameterNode
        problems = []
        if not p.ctVolume:
            problems.append("Select a CT volume.")
        if not str(p.segModelPath) or str(p.segModelPath) == ".":
            problems.append("Select a segmentation model (a `reactkd seg-distill` run folder or checkpoint).")
        if p.segmentation and not offers_segmentation(p.segmentation):
            problems.append("The selected segmentation already has liver/tumour segments; choose none to segment anew.")
        self.ui.segmentButton.enabled = not problems
        self.ui.segmentButton.toolTip = "\n".join(problems) or (
            "Segment the liver and tumours of the CT; the result is selected as the segmentation for Apply.")

    def _observeSegmentation(self, segmentation):
        """Refill the segment choosers when segments are added, removed or renamed in the Segment Editor."""
        if segmentation is self._observedSegmentation:
            return
        events = (slicer.vtkSegmentation.SegmentAdded, slicer.vtkSegmentation.SegmentRemoved,
                  slicer.vtkSegmentation.SegmentModified)
        if self._observedSegmentation is not None:
            for event in events:
                self.removeObserver(self._observedSegmentation, event, self._onSegmentsChanged)
        self._observedSegmentation = segmentation
        if segmentation is not None:
            for event in events:
                self.addObserver(segmentation, event, self._onSegmentsChanged)

    def _onSegmentsChanged(self, caller=None, event=None):
        # deferred: the Segment Editor may be in the middle of a change
        qt.QTimer.singleShot(0, self._onParameterChanged)

    def _segmentsToGui(self):
        """Fill the liver / tumour choosers from the segmentation; pre-select by name the first time."""
        from REACTKDLib.segments import default_segment_choice, segment_names

        if self._updatingSegments:  # the change came from these widgets: do not rebuild them mid-signal
            return
        p = self._parameterNode
        self._observeSegmentation(p.segmentation)
        segments = segment_names(p.segmentation) if p.segmentation else []
        ids = [sid for sid, _ in segments]
        if p.segmentation and (p.liverSegmentId not in ids or any(t not in ids for t in p.tumorSegmentIds)):
            liver, tumors = default_segment_choice(segments)
            with slicer.util.NodeModify(p):
                p.liverSegmentId = liver or ""
                p.tumorSegmentIds = tumors
        self._updatingSegments = True
        try:
            combo, tumorList = self.ui.liverSegmentComboBox, self.ui.tumorSegmentsList
            combo.clear()
            tumorList.clear()
            for sid, name in segments:
                combo.addItem(name, sid)
                item = qt.QListWidgetItem(name)
                item.setData(qt.Qt.UserRole, sid)
                item.setFlags(item.flags() | qt.Qt.ItemIsUserCheckable)
                item.setCheckState(qt.Qt.Checked if sid in p.tumorSegmentIds else qt.Qt.Unchecked)
                tumorList.addItem(item)
            combo.setCurrentIndex(ids.index(p.liverSegmentId) if p.liverSegmentId in ids else -1)
        finally:
            self._updatingSegments = False

    def _segmentsFromGui(self, *args):
        if self._updatingSegments or self._parameterNode is None:
            return
        combo, tumorList = self.ui.liverSegmentComboBox, self.ui.tumorSegmentsList
        tumors = [tumorList.item(i).data(qt.Qt.UserRole) for i in range(tumorList.count)
                  if tumorList.item(i).checkState() == qt.Qt.Checked]
        self._updatingSegments = True
        try:
            with slicer.util.NodeModify(self._parameterNode):
                self._parameterNode.liverSegmentId = combo.currentData or ""
                self._parameterNode.tumorSegmentIds = tumors
        finally:
            self._updatingSegments = False

    def _setRunning(self, running: bool, text: str = "", steps: int = 0):
        self.ui.applyButton.text = "Cancel" if running else "Apply"
        self.ui.applyButton.toolTip = "Cancel the running job." if running else "Grade the selected study."
        if running:  # Apply is the Cancel button, whatever the inputs say
            self.ui.applyButton.enabled = True
        self.ui.inputsCollapsibleButton.enabled = not running
        self.ui.progressBar.visible = running
        if running:
            # grading reports no fraction for one case (busy bar); segmentation reports its windows
            self.ui.progressBar.setRange(0, steps)
            self.ui.progressBar.setValue(0)
            self.ui.progressBar.setFormat(text + (" %p%" if steps else ""))
        if not running:
            self._onParameterChanged()

    def _log(self, text: str):
        self.ui.logText.appendPlainText(text)
        log.info(text)

    # -- running ---------------------------------------------------------------------------------------

    def onApplyButton(self):
        if self._job:
            self._log("Cancelling…")
            self._job[2].cancel()
            return
        p = self._parameterNode
        self.ui.resultLabel.text = ""
        with slicer.util.tryWithErrorDisplay("REACT-KD could not start.", waitCursor=True):
            if not self.logic.ensureDependencies():
                return
            pets = {"fdg": p.petFdgVolume, "acetate": p.petAcetateVolume}
            inputs, process, notes = self.logic.start(p.ctVolume, p.segmentation, [p.liverSegmentId],
                                                      list(p.tumorSegmentIds), pets, str(p.modelPath), p.device)
            for note in notes + inputs.warnings:
                self._log(note)
            self._job = ("grade", inputs, process, p.ctVolume)
            self._setRunning(True, "Grading…")
            self._timer.start()

    def onSegmentButton(self):
        if self._job:
            return
        p = self._parameterNode
        with slicer.util.tryWithErrorDisplay("Segmentation could not start.", waitCursor=True):
            if not self.logic.ensureDependencies():
                return
            job, process = self.logic.startSegmentation(p.ctVolume, str(p.segModelPath), p.device)
            self._log(f"Segmenting {p.ctVolume.GetName()} with {p.segModelPath}…")
            self._job = ("segment", job, process, p.ctVolume)
            self._setRunning(True, "Segmenting liver and tumours…", steps=100)
            self._timer.start()

    def _poll(self):
        kind, inputs, process, ct = self._job
        for line in process.poll():
            if kind == "segment":
                from REACTKDLib.segmentation import parse_segment_progress

                fraction = parse_segment_progress(line)
                if fraction is not None:  # the window-by-window bar would flood the log
                    self.ui.progressBar.setValue(int(100 * fraction))
                    continue
            self._log(line)
        if process.running:
            return
        self._timer.stop()
        try:
            if process.returncode == 0 and not process.cancelled:
                (self._finishSegmentation if kind == "segment" else self._finishGrading)(inputs, ct)
            else:
                self._reportFailure(process, "segmentation" if kind == "segment" else "prediction")
        finally:
            shutil.rmtree(inputs.folder, ignore_errors=True)
            self._job = None
            self._setRunning(False)

    def _finishGrading(self, inputs, ct):
        self.ui.progressBar.setFormat("Loading results…")
        slicer.app.processEvents()
        with slicer.util.tryWithErrorDisplay("Could not load the results.", waitCursor=True):
            out = self.logic.importResults(ct, inputs, self._parameterNode.overlayOpacity)
            self.ui.resultLabel.text = self.logic.summary(out)
            self._log(self.ui.resultLabel.text)

    def _reportFailure(self, process, what):
        """Explain a failed or cancelled background run in words; log and show the details unless cancelled."""
        from REACTKDLib.errors import explain_failure

        message = explain_failure(process.lines, process.returncode, process.cancelled, what)
        self._log(message)
        if not process.cancelled:
            log.error("REACTKD %s failed (exit %s):\n%s", what, process.returncode, "\n".join(process.lines))
            slicer.util.errorDisplay(message, detailedText="\n".join(process.lines[-200:]))

    def _finishSegmentation(self, job, ct):
        with slicer.util.tryWithErrorDisplay("Could not load the segmentation.", waitCursor=True):
            node = self.logic.importSegmentation(ct, job)
            # selecting it pre-selects its "liver" and "tumor" segments: Apply can grade right away
            self._parameterNode.segmentation = node
            self._log(f"Segmentation {node.GetName()!r} is selected; press Apply to grade.")


class REACTKDLogic(ScriptedLoadableModuleLogic):
    """GUI-free logic: thin wrappers over REACTKDLib with ``slicer.mrmlScene``; usable from the console."""

    def getParameterNode(self):
        return REACTKDParameterNode(super().getParameterNode())

    @staticmethod
    def coreVersion() -> str:
        import reactkd

        return reactkd.__version__

    def ensureDependencies(self, askConfirmation: bool = True) -> bool:
        """Install what the core needs, after asking (see REACTKDLib.install). Returns whether all are present."""
        from REACTKDLib.install import ensure_dependencies

        return ensure_dependencies(askConfirmation)

    def start(self, ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device="auto"):
        """Check, export and launch ``reactkd predict`` → ``(inputs, process, notes)`` (see start_grading)."""
        from REACTKDLib.inference import start_grading

        return start_grading(slicer.mrmlScene, ctNode, segmentationNode, liverIds, tumorIds, petNodes, model,
                             lambda: slicer.util.tempDirectory("REACTKD"), device)

    def gradeAllLoadedCases(self, model, folder=None, device="auto", wait=True, timeout=None):
        """Grade every loaded CT with a liver segmentation in one background ``reactkd predict --manifest``
        and show ``grades.csv`` as a table node (see REACTKDLib.batch.grade_loaded_cases); ``wait=False``
        returns ``(process, out folder)`` at once (then ``loadBatchGrades(out)``). From the Python console:
        ``slicer.util.getModuleLogic("REACTKD").gradeAllLoadedCases("/runs/demo")``."""
        from REACTKDLib.batch import grade_loaded_cases

        folder = folder or slicer.util.tempDirectory("REACTKD-batch")
        return grade_loaded_cases(slicer.mrmlScene, model, folder, device, wait, timeout,
                                  lambda text: slicer.util.showStatusMessage(f"REACT-KD batch: {text}"))

    def loadBatchGrades(self, out):
        """``out/grades.csv`` of a batch as a table node (see REACTKDLib.batch.load_grades_table)."""
        from REACTKDLib.batch import load_grades_table

        return load_grades_table(slicer.mrmlScene, out)

    def startSegmentation(self, ctNode, model, device="auto"):
        """Export the CT and launch ``reactkd segment``; returns ``(SegmentationJob, process)``. Raises
        ValueError with a message for the user."""
        from REACTKDLib.segmentation import start_segmentation

        return start_segmentation(ctNode, model, slicer.util.tempDirectory("REACTKD-seg"), device)

    def importSegmentation(self, ctNode, job):
        """The finished run's segmentation as the CT's segmentation node (replacing a previous result)."""
        from REACTKDLib.segmentation import load_segmentation_result

        return load_segmentation_result(slicer.mrmlScene, ctNode, job.seg_nrrd)

    def segment(self, ctNode, model, device="auto", timeout=None):
        """Synchronous segmentation for scripts and tests (the GUI uses :meth:`startSegmentation` + polling)."""
        job, process = self.startSegmentation(ctNode, model, device)
        try:
            wait_or_raise(process, timeout, log.info, "segmentation")
            return self.importSegmentation(ctNode, job)
        finally:
            shutil.rmtree(job.folder, ignore_errors=True)

    def importResults(self, ctNode, inputs, opacity=0.5) -> dict:
        from REACTKDLib.inference import read_prediction
        from REACTKDLib.outputs import show_results

        prediction, attention = read_prediction(inputs.out)
        out = show_results(slicer.mrmlScene, ctNode, prediction, attention, opacity)
        out["prediction"] = prediction
        # slice views: the legend shows in the views where the overlay is; tables in the table view
        slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(out["grades"].GetID())
        return out

    @staticmethod
    def summary(out: dict) -> str:
        from REACTKDLib.outputs import prediction_summary

        return prediction_summary(out["prediction"])

    @staticmethod
    def setOverlayOpacity(ctNode, opacity: float) -> None:
        from REACTKDLib.outputs import set_overlay_opacity

        set_overlay_opacity(slicer.mrmlScene, ctNode, opacity)

    def run(self, ctNode, segmentationNode, liverIds, tumorIds, model, petNodes=None, device="auto",
            timeout=None, opacity=0.5) -> dict:
        """Synchronous prediction for scripts and tests (the GUI uses :meth:`start` + polling)."""
        inputs, process, notes = self.start(ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device)
        try:
            wait_or_raise(process, timeout, log.info)
            return self.importResults(ctNode, inputs, opacity)
        finally:
            shutil.rmtree(inputs.folder, ignore_errors=True)


# Slicer finds the self-test as REACTKD.REACTKDTest (ScriptedLoadableModule.runTest).
from REACTKDLib.selftest import REACTKDTest  # noqa: E402,F401
