"""3D Slicer module REACTKD: HCC grade from CT (+ optional PET) and a liver/tumour segmentation.

This file stays thin: MRML-facing logic lives in ``REACTKDLib`` (tested with slicer-core under pytest, the
widget too, with stand-in Qt widgets) and the ML core in the ``reactkd`` package beside it, which never
imports slicer. Grading runs in a persistent ``PythonSlicer`` worker per model (``reactkd serve``: torch
and the model load once), segmentation and batch grading in background processes; a timer polls them,
so the GUI never waits and Apply turns into Cancel while a job runs. The extension ships a synthetic
demonstration model and a phantom sample case (Sample Data, category REACTKD); results of a synthetic
model carry a banner. Slicer 5.10 or newer is required (Python 3.10+): an older one gets one line saying so.
"""

import logging
import shutil
import sys
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
RECENT_MODELS, TRAINED_MODELS, SEGMENT_SOURCE = "REACTKD/RecentModels", "REACTKD/TrainedModels", "REACTKD/SegmentSource"


def versionProblem():
    """One line when this Slicer is too old for REACT-KD (Slicer < 5.10, Python < 3.10), else None."""
    from REACTKDLib.version_check import slicer_version_problem  # runs on Python 3.9 too

    app = getattr(slicer, "app", None)
    return slicer_version_problem(sys.version_info, getattr(app, "applicationVersion", None))


def registerSampleData():
    """Add the phantom sample case (CT, both PETs, liver and tumour) to the Sample Data module."""
    import SampleData

    from REACTKDLib.commands import MODULE_DIR
    from REACTKDLib.sample_data import register_sample_data, sample_folder

    register_sample_data(SampleData.SampleDataLogic, sample_folder(MODULE_DIR))


def stopAllJobs():
    """Stop every background process and inference worker (scene close, application exit). Never raises."""
    from REACTKDLib.process import stop_all
    from REACTKDLib.worker import stop_all_workers

    stop_all_workers()
    stop_all()


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
            slicer.app.connect("aboutToQuit()", stopAllJobs)


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
    def __init__(self, parent=None):
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = REACTKDLogic()
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._updating = False
        self._observedSegmentation = None
        self._seenSegments = (None, None)  # (segmentation ID, its segment IDs when the choice was last made)
        self._job = None  # REACTKDLib.jobs.PanelJob while a job runs
        self._result = None  # (CT node, prediction) of the last grading, for the region table
        self._modelStatus = None
        self._modelChoices = []
        self._versionProblem = None
        self._failure = ""  # the last run's problem, shown until the next run starts
        self._timer = qt.QTimer()
        self._timer.setInterval(250)
        self._timer.connect("timeout()", self._poll)

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/REACTKD.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self._versionProblem = versionProblem()
        if self._versionProblem:  # nothing else of REACTKDLib is imported: it needs Python 3.10
            self._showProblem(self._versionProblem)
            for name in ("inputsCollapsibleButton", "applyButton", "batchButton", "displayCollapsibleButton"):
                getattr(self.ui, name).enabled = False
            return
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeAddedEvent, self._onNodesChanged)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.NodeRemovedEvent, self._onNodesChanged)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.batchButton.connect("clicked(bool)", self.onBatchButton)
        self.ui.segmentButton.connect("clicked(bool)", self.onSegmentButton)
        self.ui.loadSampleButton.connect("clicked(bool)", self.onLoadSample)
        self.ui.showTablesButton.connect("clicked(bool)", self.onShowTables)
        self.ui.liverSegmentComboBox.connect("currentIndexChanged(int)", self._segmentsFromGui)
        self.ui.tumorSegmentsList.connect("itemChanged(QListWidgetItem*)", self._segmentsFromGui)
        self.ui.modelComboBox.connect("currentIndexChanged(int)", self._onModelChosen)
        self.ui.segmentSourceComboBox.connect("currentIndexChanged(int)", self._onSegmentSourceChosen)
        self.ui.regionsTable.connect("itemSelectionChanged()", self._onRegionSelected)
        self._setupRegionsTable()
        self._fillSegmentSources()
        self.initializeParameterNode()

    def cleanup(self):
        if self._job:
            self._job.handle.cancel()
        self._timer.stop()
        self.removeObservers()

    def enter(self):
        if self._versionProblem:
            return
        self.initializeParameterNode()

    def exit(self):
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterChanged)

    def onSceneStartClose(self, caller, event):
        stopAllJobs()
        if self._job:
            self._finishJob()
        self._result = None
        self._seenSegments = (None, None)  # node IDs start again in the next scene
        self._showRegions(None)
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event):
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self):
        self.setParameterNode(self.logic.getParameterNode())
        p = self._parameterNode
        if not p.ctVolume:
            p.ctVolume = self.logic.firstCtCandidate()
        if not p.segmentation:
            p.segmentation = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLSegmentationNode")
        if not str(p.modelPath) or str(p.modelPath) == ".":
            from REACTKDLib.inference import default_model

            found = default_model()
            if found:
                p.modelPath = Path(found)
        if not str(p.segModelPath) or str(p.segModelPath) == ".":
            from REACTKDLib.segmentation import default_seg_model

            if default_seg_model():
                p.segModelPath = Path(default_seg_model())
        self._fillModelPicker()

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

    def _onNodesChanged(self, caller=None, event=None):
        qt.QTimer.singleShot(0, self._updateCtFilter)  # deferred: the node is still being added

    def _updateCtFilter(self):
        p = self._parameterNode
        if p is None:
            return
        from REACTKDLib.ct_filter import hidden_ct_node_ids, mark_modality

        mark_modality(p.petFdgVolume, "PT")  # a volume chosen as PET is no CT candidate
        mark_modality(p.petAcetateVolume, "PT")
        self.ui.ctSelector.sortFilterProxyModel().hiddenNodeIDs = hidden_ct_node_ids(slicer.mrmlScene)

    def _onParameterChanged(self, caller=None, event=None):
        p = self._parameterNode
        if p is None or self._updating:
            return
        self._segmentsToGui()
        self._updateCtFilter()
        self.logic.setOverlayOpacity(p.ctVolume, p.overlayOpacity)
        if p.ctVolume is not None:
            self.logic.setEdgesVisible(p.ctVolume, p.showEdges)
        self._updateModelStatus()
        if self._job:
            self.ui.segmentButton.enabled = self.ui.batchButton.enabled = False
            return
        self._updateSegmentButton()
        from REACTKDLib.panel import apply_problems

        problems = apply_problems(p.ctVolume, p.segmentation, p.liverSegmentId, self._modelStatus)
        self.ui.applyButton.enabled = not problems
        self.ui.applyButton.toolTip = "\n".join(problems) or "Grade the selected study."
        self.ui.batchButton.enabled = self._modelStatus is not None and self._modelStatus.ok
        self._showProblem(problems[0] if problems else self._failure)

    def _reportProblem(self, text):
        """A run that could not start or failed: its line stays in the panel until the next run starts."""
        self._failure = text.strip().splitlines()[0] if text and text.strip() else ""
        self._showProblem(self._failure)

    def _showProblem(self, text):
        """One line in the panel naming the problem and what to do (the log keeps the details)."""
        self.ui.problemLabel.text = text.strip().splitlines()[0] if text and text.strip() else ""
        self.ui.problemLabel.visible = bool(self.ui.problemLabel.text)

    def _showBanner(self, banner):
        self.ui.bannerLabel.text = banner or ""
        self.ui.bannerLabel.visible = bool(banner)

    # -- the model picker ------------------------------------------------------------------------------

    def _fillModelPicker(self):
        p = self._parameterNode
        self._modelChoices = self.logic.modelChoices(str(p.modelPath) if p else "")
        from REACTKDLib.model_picker import choice_index

        current = choice_index(self._modelChoices, str(p.modelPath) if p else "")
        self._updating = True
        try:
            combo = self.ui.modelComboBox
            combo.clear()
            for choice in self._modelChoices:
                combo.addItem(choice.label)
            combo.setCurrentIndex(current)
        finally:
            self._updating = False
        self._updateModelStatus()

    def _onModelChosen(self, index):
        if self._updating or self._parameterNode is None or not 0 <= index < len(self._modelChoices):
            return
        choice = self._modelChoices[index]
        path = choice.path
        if choice.origin == "browse":
            start = str(self._parameterNode.modelPath.parent) if str(self._parameterNode.modelPath) != "." else ""
            path = qt.QFileDialog.getExistingDirectory(self.parent, "Choose a run folder (written by reactkd train)", start)
            if not path:
                self._fillModelPicker()  # back to the model in use
                return
        if choice.origin in ("browse", "recent"):
            self.logic.rememberModel(path)
        self._parameterNode.modelPath = Path(path)
        self._fillModelPicker()

    def _updateModelStatus(self):
        p = self._parameterNode
        path = str(p.modelPath) if p else ""
        if self._modelStatus is None or self._modelStatus.path != path:
            if self._modelStatus is not None:
                self.logic.stopWorkers()  # another model: the warm one goes
            self._modelStatus = self.logic.modelStatus(path)
        status = self._modelStatus
        self.ui.modelStatusLabel.text = status.summary()
        self._showBanner(status.banner)

    # -- segments --------------------------------------------------------------------------------------

    def _updateSegmentButton(self):
        p = self._parameterNode
        problems = self.logic.segmentProblems(p.ctVolume, p.segmentation, self._segmentSource(), str(p.segModelPath))
        self.ui.segmentButton.enabled = not problems
        self.ui.segmentButton.toolTip = "\n".join(problems) or (
            "Segment the liver and tumours of the CT; the result is selected as the segmentation for Apply.")
        reactkd = self._segmentSource() == "reactkd"
        self.ui.segModelPathLineEdit.visible = reactkd
        from REACTKDLib.model_picker import segmentation_banner

        banner = segmentation_banner(str(p.segModelPath)) if reactkd else ""
        self.ui.segmentBannerLabel.text = banner
        self.ui.segmentBannerLabel.visible = bool(banner)

    def _fillSegmentSources(self):
        sources = self.logic.segmentSources()
        saved = qt.QSettings().value(SEGMENT_SOURCE) or sources[0][0]
        self._updating = True
        try:
            self.ui.segmentSourceComboBox.clear()
            for key, label in sources:
                self.ui.segmentSourceComboBox.addItem(label, key)
            keys = [key for key, _ in sources]
            self.ui.segmentSourceComboBox.setCurrentIndex(keys.index(saved) if saved in keys else 0)
        finally:
            self._updating = False

    def _segmentSource(self):
        return self.ui.segmentSourceComboBox.currentData or "reactkd"

    def _onSegmentSourceChosen(self, index):
        if self._updating:
            return
        qt.QSettings().setValue(SEGMENT_SOURCE, self._segmentSource())
        self._onParameterChanged()

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
        qt.QTimer.singleShot(0, self._onParameterChanged)  # deferred: the Segment Editor may be mid-change

    def _segmentsToGui(self):
        """Fill the liver / tumour choosers; the user's choice is kept while its segments exist, names only
        fill what is missing (REACTKDLib.segments.keep_segment_choice)."""
        from REACTKDLib.segments import keep_segment_choice, segment_names

        p = self._parameterNode
        self._observeSegmentation(p.segmentation)
        segments = segment_names(p.segmentation) if p.segmentation else []
        ids = [sid for sid, _ in segments]
        if p.segmentation:
            liver, tumors = p.liverSegmentId, list(p.tumorSegmentIds)
            previous = self._seenSegments[1] if self._seenSegments[0] == p.segmentation.GetID() else None
            if self._seenSegments[0] not in (None, p.segmentation.GetID()):
                liver, tumors = "", []  # another segmentation was chosen: the old choice was for that one
            liver, tumors = keep_segment_choice(segments, liver, tumors, previous)
            self._seenSegments = (p.segmentation.GetID(), ids)
            if (liver, tumors) != (p.liverSegmentId, list(p.tumorSegmentIds)):
                self._updating = True
                try:
                    with slicer.util.NodeModify(p):
                        p.liverSegmentId, p.tumorSegmentIds = liver, tumors
                finally:
                    self._updating = False
        self._updating = True
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
            self._updating = False

    def _segmentsFromGui(self, *args):
        if self._updating or self._parameterNode is None:
            return
        combo, tumorList = self.ui.liverSegmentComboBox, self.ui.tumorSegmentsList
        tumors = [tumorList.item(i).data(qt.Qt.UserRole) for i in range(tumorList.count)
                  if tumorList.item(i).checkState() == qt.Qt.Checked]
        with slicer.util.NodeModify(self._parameterNode):
            self._parameterNode.liverSegmentId = combo.currentData or ""
            self._parameterNode.tumorSegmentIds = tumors

    # -- running ---------------------------------------------------------------------------------------

    def _setRunning(self, running, job=None):
        self.ui.applyButton.text = "Cancel" if running else "Apply"
        self.ui.applyButton.toolTip = "Cancel the running job." if running else "Grade the selected study."
        if running:  # Apply is the Cancel button, whatever the inputs say
            self.ui.applyButton.enabled = True
            self.ui.batchButton.enabled = self.ui.segmentButton.enabled = False
        self.ui.inputsCollapsibleButton.enabled = not running
        self.ui.progressBar.visible = running
        if running:
            from REACTKDLib.jobs import TITLES

            self.ui.progressBar.setRange(0, job.steps)  # one case: a busy bar
            self.ui.progressBar.setValue(0)
            self.ui.progressBar.setFormat(TITLES[job.kind] + (" %p%" if job.steps else ""))
        else:
            self._onParameterChanged()

    def _log(self, text):
        self.ui.logText.appendPlainText(text)
        log.info(text)

    def _start(self, job):
        self._job = job
        self._setRunning(True, job)
        self._timer.start()

    def _startGuarded(self, what, start):
        """Run ``start()``; a bad input becomes one line in the panel, anything else an error dialog."""
        self._reportProblem("")
        try:
            with slicer.util.tryWithErrorDisplay(f"REACT-KD could not start the {what}.", waitCursor=True):
                try:
                    outcome = self.logic.ensureDependencies()
                    if not outcome:
                        self._reportProblem(getattr(outcome, "message", "") or "The packages REACT-KD needs are missing.")
                        return
                    start()
                except (ValueError, FileNotFoundError, RuntimeError, OSError) as err:
                    self._log(str(err))
                    self._reportProblem(str(err))
        except Exception:  # noqa: BLE001 - shown by tryWithErrorDisplay; the panel stays usable
            log.exception("REACTKD: %s", what)

    def onApplyButton(self):
        if self._job:
            self._log("Cancelling…")
            self._job.handle.cancel()
            return
        p = self._parameterNode
        self.ui.resultLabel.text = ""

        def start():
            from REACTKDLib.jobs import GRADE, PanelJob

            pets = {"fdg": p.petFdgVolume, "acetate": p.petAcetateVolume}
            inputs, handle, notes = self.logic.start(p.ctVolume, p.segmentation, [p.liverSegmentId],
                                                     list(p.tumorSegmentIds), pets, str(p.modelPath), p.device)
            for note in notes + inputs.warnings:
                self._log(note)
            self._start(PanelJob(GRADE, handle, p.ctVolume, inputs, self._modelStatus))

        self._startGuarded("grading", start)

    def onBatchButton(self):
        if self._job:
            return
        p = self._parameterNode

        def start():
            from REACTKDLib.jobs import BATCH, PanelJob

            batch = self.logic.startBatch(str(p.modelPath), device=p.device)
            for reason in batch.skipped:
                self._log(f"Not graded: {reason}")
            self._start(PanelJob(BATCH, batch, None, batch.out, self._modelStatus))

        self._startGuarded("batch grading", start)

    def onSegmentButton(self):
        if self._job:
            return
        p = self._parameterNode
        if self._segmentSource() == "totalsegmentator":
            def run():  # TotalSegmentator's own logic runs synchronously and keeps the event loop turning
                node = self.logic.segmentWithTotalSegmentator(p.ctVolume, cpu=p.device == "cpu")
                self._selectSegmentation(node, "TotalSegmentator")

            self._startGuarded("segmentation", run)
            return

        def start():
            from REACTKDLib.jobs import SEGMENT, PanelJob

            job, handle = self.logic.startSegmentation(p.ctVolume, str(p.segModelPath), p.device)
            self._log(f"Segmenting {p.ctVolume.GetName()} with {p.segModelPath}…")
            self._start(PanelJob(SEGMENT, handle, p.ctVolume, job))

        self._startGuarded("segmentation", start)

    def onLoadSample(self):
        try:
            nodes = self.logic.loadSampleCase()
        except (ValueError, FileNotFoundError, RuntimeError, OSError) as err:
            self._reportProblem(str(err))
            return
        p = self._parameterNode
        with slicer.util.NodeModify(p):
            p.ctVolume, p.segmentation = nodes["ct"], nodes["segmentation"]
            p.petFdgVolume, p.petAcetateVolume = nodes["pet_fdg"], nodes["pet_acetate"]
        self._onParameterChanged()

    def _poll(self):
        job = self._job
        for fraction, text in job.read():
            if fraction is not None and job.steps:
                self.ui.progressBar.setValue(int(100 * fraction))
            if text:
                self._log(text)
        if job.running:
            return
        self._finishJob()

    def _finishJob(self):
        job, self._job = self._job, None
        self._timer.stop()
        try:
            for _, text in job.read():
                if text:
                    self._log(text)
            finished = {"grade": self._finishGrading, "segment": self._finishSegmentation, "batch": self._finishBatch}
            if job.succeeded or (job.kind == "batch" and not job.cancelled):
                finished[job.kind](job)
            else:
                self._reportFailure(job)
        except (ValueError, FileNotFoundError, RuntimeError, OSError) as err:
            self._log(str(err))
            self._reportProblem(str(err))
        finally:
            if job.kind in ("grade", "segment") and job.inputs is not None:
                shutil.rmtree(job.inputs.folder, ignore_errors=True)
            self._setRunning(False)

    def _finishGrading(self, job):
        self.ui.progressBar.setFormat("Loading results…")
        out = self.logic.importResults(job.ct, job.inputs, self._parameterNode.overlayOpacity, job.status)
        self.ui.resultLabel.text = self.logic.summary(out)
        self._log(self.ui.resultLabel.text)
        self._showBanner(out["banner"])
        self._result = (job.ct, out["prediction"])
        self._showRegions(out["prediction"])
        self.logic.setEdgesVisible(job.ct, self._parameterNode.showEdges)
        self.logic.showTables(out["grades"])

    def _finishBatch(self, job):
        table = self.logic.finishBatch(job.handle, job.status)
        self._log(f"Batch grades: table {table.GetName()!r} ({table.GetNumberOfRows()} cases).")
        if job.process.returncode:
            self._reportProblem("Some cases could not be graded: see the table's status column and the log.")
        self.logic.showTables(table)

    def _finishSegmentation(self, job):
        from REACTKDLib.model_picker import segmentation_banner
        from REACTKDLib.provenance import mark_results

        node = self.logic.importSegmentation(job.ct, job)
        banner = segmentation_banner(str(self._parameterNode.segModelPath))
        mark_results([node], str(self._parameterNode.segModelPath), banner)  # the result says what made it
        if banner:
            self._log(banner)
        self._selectSegmentation(node, "the ReCo-KD model")

    def _selectSegmentation(self, node, source):
        # selecting it pre-selects its "liver" and "tumor" segments: Apply can grade right away
        self._parameterNode.segmentation = node
        self._log(f"Segmentation {node.GetName()!r} ({source}) is selected; check it, then press Apply.")

    def _reportFailure(self, job):
        """A failed or cancelled run in words: one line in the panel, the output in the log."""
        from REACTKDLib.errors import explain_failure

        process = job.process
        message = explain_failure(process.lines, process.returncode, process.cancelled, job.what)
        self._log(message)
        if not process.cancelled:
            log.error("REACTKD %s failed (exit %s):\n%s", job.what, process.returncode, "\n".join(process.lines))
            self._reportProblem(message)

    # -- regions ---------------------------------------------------------------------------------------

    def _setupRegionsTable(self):
        from REACTKDLib.panel import REGION_COLUMNS

        table = self.ui.regionsTable
        table.setColumnCount(len(REGION_COLUMNS))
        table.setHorizontalHeaderLabels(list(REGION_COLUMNS))
        table.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
        table.setSelectionMode(qt.QAbstractItemView.SingleSelection)
        table.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)

    def _showRegions(self, prediction):
        from REACTKDLib.panel import region_rows

        rows = region_rows(prediction) if prediction else []
        table = self.ui.regionsTable
        self._updating = True
        try:
            table.clearContents()
            table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    table.setItem(r, c, qt.QTableWidgetItem(text))
        finally:
            self._updating = False
        self.ui.nodeDetailsLabel.text = "Select a region to jump to it." if rows else ""

    def _onRegionSelected(self):
        if self._updating or self._result is None:
            return
        row = self.ui.regionsTable.currentRow()
        ct, prediction = self._result
        if 0 <= row < len(prediction["nodes"]):
            self.ui.nodeDetailsLabel.text = self.logic.focusRegion(ct, prediction, row)

    def onShowTables(self):
        p = self._parameterNode
        table = self.logic.gradeTable(p.ctVolume) if p is not None else None
        if table is not None:
            self.logic.showTables(table)


class REACTKDLogic(ScriptedLoadableModuleLogic):
    """GUI-free logic: thin wrappers over REACTKDLib with ``slicer.mrmlScene``; usable from the console."""

    def getParameterNode(self):
        return REACTKDParameterNode(super().getParameterNode())

    @staticmethod
    def coreVersion() -> str:
        import reactkd

        return reactkd.__version__

    def ensureDependencies(self, askConfirmation: bool = True):
        """Install what the core needs, after asking (see REACTKDLib.install); true when grading can start,
        else it carries the ``message`` for the panel."""
        from REACTKDLib.install import ensure_dependencies

        return ensure_dependencies(askConfirmation)

    # models

    @staticmethod
    def _settingsList(key) -> list:
        value = qt.QSettings().value(key)
        if not value:
            return []
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]

    def modelChoices(self, current: str = "") -> list:
        """The picker's entries (see REACTKDLib.model_picker.model_choices)."""
        import os

        from REACTKDLib.commands import MODULE_DIR
        from REACTKDLib.model_picker import model_choices, shipped_model_dir

        return model_choices(shipped_model_dir(MODULE_DIR), self._settingsList(TRAINED_MODELS),
                             self._settingsList(RECENT_MODELS), current, os.environ.get("REACTKD_MODEL"))

    def rememberModel(self, path: str) -> None:
        """Put a run folder first in the picker's "chosen before" list (kept in Slicer's settings)."""
        from REACTKDLib.model_picker import remember

        qt.QSettings().setValue(RECENT_MODELS, remember(self._settingsList(RECENT_MODELS), str(path)))

    def addTrainedModel(self, path: str) -> None:
        """Offer a model REACTKDTrainer produced in the picker (kept in Slicer's settings)."""
        from REACTKDLib.model_picker import remember

        qt.QSettings().setValue(TRAINED_MODELS, remember(self._settingsList(TRAINED_MODELS), str(path)))

    @staticmethod
    def modelStatus(path: str):
        """The model's verdict (REACTKDLib.model_picker.describe_model): usable, or one line saying why not."""
        from REACTKDLib.model_picker import describe_model

        return describe_model(path)

    @staticmethod
    def stopWorkers() -> None:
        from REACTKDLib.worker import stop_all_workers

        stop_all_workers()

    # grading

    @staticmethod
    def firstCtCandidate():
        """The first volume the CT selector offers (REACTKDLib.ct_filter), or None."""
        from REACTKDLib.ct_filter import ct_candidates

        found = ct_candidates(slicer.mrmlScene)
        return found[0] if found else None

    def start(self, ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device="auto", useWorker=True):
        """Check, export and start grading in the model's persistent worker (first call starts it) →
        ``(inputs, job, notes)`` (see REACTKDLib.inference.start_grading)."""
        from REACTKDLib.inference import start_grading
        from REACTKDLib.worker import worker_for

        worker = worker_for(str(model), device) if useWorker else None
        return start_grading(slicer.mrmlScene, ctNode, segmentationNode, liverIds, tumorIds, petNodes, model,
                             lambda: slicer.util.tempDirectory("REACTKD"), device, worker)

    def importResults(self, ctNode, inputs, opacity=0.5, status=None) -> dict:
        """The finished run's outputs in the scene, the synthetic banner where the model's card says so."""
        from REACTKDLib.results import import_prediction

        status = status or self.modelStatus("")
        return import_prediction(slicer.mrmlScene, ctNode, inputs, opacity, status.path, status.banner, status.card)

    @staticmethod
    def summary(out: dict) -> str:
        from REACTKDLib.results import result_summary

        return result_summary(out)

    def gradeTable(self, ctNode):
        from REACTKDLib.outputs import find_outputs

        found = find_outputs(slicer.mrmlScene, ctNode, "grades", "vtkMRMLTableNode") if ctNode else []
        return found[0] if found else None

    @staticmethod
    def showTables(tableNode) -> None:
        """A layout with a table view showing ``tableNode``."""
        from REACTKDLib.topology import show_table_layout

        show_table_layout(slicer.mrmlScene, tableNode)
        selection = slicer.app.applicationLogic().GetSelectionNode()
        selection.SetActiveTableID(tableNode.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()

    def focusRegion(self, ctNode, prediction, index) -> str:
        """Jump the slice views to region ``index``'s centroid and outline its region; returns its details."""
        from REACTKDLib.geometry import lps_to_ras
        from REACTKDLib.topology import highlight_region, jump_slices, node_details

        jump_slices(slicer.mrmlScene, lps_to_ras(prediction["nodes"][index]["centroid_lps_mm"]))
        highlight_region(slicer.mrmlScene, ctNode, index)
        return node_details(prediction["nodes"], index)

    @staticmethod
    def setEdgesVisible(ctNode, visible) -> None:
        from REACTKDLib.topology import set_edges_visible

        set_edges_visible(slicer.mrmlScene, ctNode, visible)

    def gradeAllLoadedCases(self, model, folder=None, device="auto", wait=True, timeout=None):
        """Grade every loaded CT with a liver segmentation in one run of the model's worker and show
        ``grades.csv`` as a table node (see REACTKDLib.batch.grade_loaded_cases; Slicer keeps drawing while
        it waits); ``wait=False`` returns ``(job, out folder)`` at once (then ``loadBatchGrades(out)``).
        From the Python console: ``slicer.util.getModuleLogic("REACTKD").gradeAllLoadedCases("/runs/demo")``."""
        from REACTKDLib.batch import grade_loaded_cases

        folder = folder or slicer.util.tempDirectory("REACTKD-batch")
        result = grade_loaded_cases(slicer.mrmlScene, model, folder, device, wait, timeout,
                                    lambda text: slicer.util.showStatusMessage(f"REACT-KD batch: {text}"),
                                    slicer.app.processEvents)
        if wait:
            self._markTable(result, self.modelStatus(str(model)))
        return result

    def startBatch(self, model, folder=None, device="auto"):
        """Start grading every loaded case at once (REACTKDLib.batch.BatchGrading, for the panel's timer)."""
        from REACTKDLib.batch import start_grading_loaded_cases

        folder = folder or slicer.util.tempDirectory("REACTKD-batch")
        return start_grading_loaded_cases(slicer.mrmlScene, str(model), folder, device)

    def finishBatch(self, batch, status=None):
        """A finished batch's grades as a table node, with the model (and its banner) in a column."""
        table = batch.finish(slicer.mrmlScene)
        if status is not None:
            self._markTable(table, status)
        return table

    def loadBatchGrades(self, out, status=None):
        """``out/grades.csv`` of a batch as a table node (see REACTKDLib.batch.load_grades_table)."""
        from REACTKDLib.batch import load_grades_table

        table = load_grades_table(slicer.mrmlScene, out)
        if status is not None:
            self._markTable(table, status)
        return table

    @staticmethod
    def _markTable(table, status) -> None:
        from REACTKDLib.provenance import add_model_column, mark_results
        from REACTKDLib.results import model_label

        add_model_column(table, model_label(status.path, status.card), status.banner)
        mark_results([table], status.path, status.banner)

    @staticmethod
    def setOverlayOpacity(ctNode, opacity: float) -> None:
        from REACTKDLib.outputs import set_overlay_opacity

        set_overlay_opacity(slicer.mrmlScene, ctNode, opacity)

    def run(self, ctNode, segmentationNode, liverIds, tumorIds, model, petNodes=None, device="auto",
            timeout=None, opacity=0.5, useWorker=True) -> dict:
        """Synchronous grading for scripts and tests (the GUI uses :meth:`start` + polling); Slicer keeps
        drawing while it waits."""
        inputs, process, notes = self.start(ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device,
                                            useWorker)
        try:
            wait_or_raise(process, timeout, log.info, "prediction", slicer.app.processEvents)
            return self.importResults(ctNode, inputs, opacity, self.modelStatus(str(model)))
        finally:
            shutil.rmtree(inputs.folder, ignore_errors=True)

    # sample data and segmentation

    def loadSampleCase(self) -> dict:
        """The phantom sample case through the Sample Data module (``{"ct", "pet_fdg", "pet_acetate",
        "segmentation"}`` → node); the segmentation's reference geometry is the CT."""
        import SampleData

        from REACTKDLib.commands import MODULE_DIR
        from REACTKDLib.sample_data import NODE_NAMES, SAMPLE_NAME, register_sample_data, sample_folder

        if not register_sample_data(SampleData.SampleDataLogic, sample_folder(MODULE_DIR)):
            raise FileNotFoundError(f"The phantom sample case is not installed in {sample_folder(MODULE_DIR)}: "
                                    "reinstall the extension.")
        loaded = SampleData.SampleDataLogic().downloadSamples(SAMPLE_NAME)
        nodes = {key: next((n for n in loaded if hasattr(n, "GetName") and n.GetName().startswith(name)), None)
                 for key, name in NODE_NAMES.items()}
        if any(n is None for n in nodes.values()):
            raise RuntimeError("Sample Data could not load every file of the phantom sample case; see the log.")
        nodes["segmentation"].SetReferenceImageGeometryParameterFromVolumeNode(nodes["ct"])
        return nodes

    @staticmethod
    def segmentSources() -> list:
        """``[(key, label)]`` of the segmentation tools offered: TotalSegmentator first where installed."""
        sources = [("reactkd", "ReCo-KD model (reactkd seg-distill)")]
        if hasattr(slicer.modules, "totalsegmentator"):
            sources.insert(0, ("totalsegmentator", "TotalSegmentator (liver, liver tumours)"))
        return sources

    def segmentProblems(self, ctNode, segmentationNode, source, segModel) -> list:
        from REACTKDLib.segmentation import offers_segmentation

        problems = [] if ctNode else ["Select a CT volume."]
        if source == "reactkd" and (not segModel or segModel == "."):
            problems.append("Select a segmentation model (a `reactkd seg-distill` run folder or checkpoint).")
        if segmentationNode and not offers_segmentation(segmentationNode):
            problems.append("The selected segmentation already has liver/tumour segments; choose none to segment anew.")
        return problems

    def segmentWithTotalSegmentator(self, ctNode, cpu=False, quality="fast"):
        """Liver and liver tumours from the TotalSegmentator extension's own logic, as segments ``liver`` and
        ``tumor`` of "<CT> liver and tumours (TotalSegmentator)" (see REACTKDLib.totalsegmentator)."""
        from REACTKDLib.totalsegmentator import MODULE_NAME, segment_with_totalsegmentator

        try:
            logic = slicer.util.getModuleLogic(MODULE_NAME)
        except RuntimeError:
            import TotalSegmentator

            logic = TotalSegmentator.TotalSegmentatorLogic()
        if hasattr(logic, "setupPythonRequirements"):
            logic.setupPythonRequirements()  # that extension installs its own packages, asking first
        return segment_with_totalsegmentator(logic, slicer.mrmlScene, ctNode, cpu, quality)

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
            wait_or_raise(process, timeout, log.info, "segmentation", slicer.app.processEvents)
            return self.importSegmentation(ctNode, job)
        finally:
            shutil.rmtree(job.folder, ignore_errors=True)


# Slicer finds the self-test as REACTKD.REACTKDTest (ScriptedLoadableModule.runTest).
from REACTKDLib.selftest import REACTKDTest  # noqa: E402,F401
