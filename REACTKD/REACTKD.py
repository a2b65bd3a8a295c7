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
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

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
        if kind == "segment":
            self._finishSegmentation(inputs, process, ct)
            return
        try:
            if process.returncode == 0 and not process.cancelled:
                self.ui.progressBar.setFormat("Loading results…")
                slicer.app.processEvents()
                with slicer.util.tryWithErrorDisplay("Could not load the results.", waitCursor=True):
                    out = self.logic.importResults(ct, inputs, self._parameterNode.overlayOpacity)
                    self.ui.resultLabel.text = self.logic.summary(out)
                    self._log(self.ui.resultLabel.text)
            else:
                self._reportFailure(process, "prediction")
        finally:
            shutil.rmtree(inputs.folder, ignore_errors=True)
            self._job = None
            self._setRunning(False)

    def _reportFailure(self, process, what):
        """Explain a failed or cancelled background run in words; log and show the details unless cancelled."""
        from REACTKDLib.errors import explain_failure

        message = explain_failure(process.lines, process.returncode, process.cancelled)
        self._log(message)
        if not process.cancelled:
            log.error("REACTKD %s failed (exit %s):\n%s", what, process.returncode, "\n".join(process.lines))
            slicer.util.errorDisplay(message, detailedText="\n".join(process.lines[-200:]))

    def _finishSegmentation(self, job, process, ct):
        try:
            if process.returncode == 0 and not process.cancelled:
                with slicer.util.tryWithErrorDisplay("Could not load the segmentation.", waitCursor=True):
                    node = self.logic.importSegmentation(ct, job)
                    # selecting it pre-selects its "liver" and "tumor" segments: Apply can grade right away
                    self._parameterNode.segmentation = node
                    self._log(f"Segmentation {node.GetName()!r} is selected; press Apply to grade.")
            else:
                self._reportFailure(process, "segmentation")
        finally:
            shutil.rmtree(job.folder, ignore_errors=True)
            self._job = None
            self._setRunning(False)


class REACTKDLogic(ScriptedLoadableModuleLogic):
    """GUI-free logic: thin wrappers over REACTKDLib with ``slicer.mrmlScene``; usable from the console."""

    def getParameterNode(self):
        return REACTKDParameterNode(super().getParameterNode())

    @staticmethod
    def coreVersion() -> str:
        import reactkd

        return reactkd.__version__

    def ensureDependencies(self, askConfirmation: bool = True) -> bool:
        """Install what the core needs, after asking: torch via PyTorchUtils (the PyTorch extension), the
        rest with pip constrained to keep Slicer's SimpleITK and numpy. Returns whether all are present."""
        import importlib
        import os
        import tempfile

        from REACTKDLib.dependencies import install_plan_text, missing_requirements, pip_constraints, pip_requirements

        missing = missing_requirements()
        if not missing:
            return True
        if askConfirmation and not slicer.util.confirmOkCancelDisplay(install_plan_text(missing)):
            return False
        if "torch" in missing:
            try:
                import PyTorchUtils
            except ImportError:
                raise RuntimeError("PyTorch is not installed. Install the 'PyTorch' extension from the Extensions "
                                   "Manager (it picks the right build for your GPU), restart Slicer and retry.")
            torchLogic = PyTorchUtils.PyTorchUtilsLogic()
            if not torchLogic.torchInstalled() and torchLogic.installTorch(askConfirmation=False) is None:
                raise RuntimeError("PyTorch installation failed or was cancelled; see the Python console.")
        requirements = pip_requirements(missing)
        if requirements:
            fd, constraints = tempfile.mkstemp(suffix=".txt", prefix="reactkd-constraints-")
            with os.fdopen(fd, "w") as f:
                f.write(pip_constraints())
            try:
                slicer.util.pip_install(requirements + ["-c", constraints])
            finally:
                os.unlink(constraints)
        importlib.invalidate_caches()
        still = missing_requirements()
        if still:
            raise RuntimeError(f"Still missing after installation: {still}. See the Python console for pip's output.")
        return True

    def start(self, ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device="auto"):
        """Check the model against the inputs, export them and launch ``reactkd predict``.

        Returns ``(inputs, process, notes)``. Raises ValueError with a message for the user.
        """
        from REACTKDLib.inference import export_inputs, start_prediction
        from REACTKDLib.model import model_input_problems, read_model_metadata

        if not model or not Path(model).exists():
            raise ValueError(f"Model not found: {model!r}. Choose a student checkpoint (best.pt) or a run folder.")
        pets = {t: n for t, n in (petNodes or {}).items() if n is not None}
        errors, notes = model_input_problems(read_model_metadata(model), list(pets))
        if errors:
            raise ValueError("\n".join(errors))
        if pets and any("ignored" in n for n in notes):
            pets = {}
        folder = slicer.util.tempDirectory("REACTKD")
        inputs = export_inputs(slicer.mrmlScene, ctNode, segmentationNode, [i for i in liverIds if i],
                               list(tumorIds), folder, pets)
        return inputs, start_prediction(inputs, model, device), notes

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
        from REACTKDLib.errors import explain_failure

        job, process = self.startSegmentation(ctNode, model, device)
        try:
            code = process.wait(timeout, log.info)
            if code != 0:
                raise RuntimeError(explain_failure(process.lines, code, process.cancelled))
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
        pred = out["prediction"]
        probs = ", ".join(f"G{g} {v:.2f}" for g, v in pred["probabilities"].items())
        n_t = sum(n["kind"] == "tumor" for n in pred["nodes"])
        return f"Predicted Edmondson–Steiner grade {pred['grade']} ({probs}); {n_t} tumour node(s)."

    @staticmethod
    def setOverlayOpacity(ctNode, opacity: float) -> None:
        if ctNode is None:
            return
        from REACTKDLib.outputs import find_outputs

        if not find_outputs(slicer.mrmlScene, ctNode, "attention", "vtkMRMLScalarVolumeNode"):
            return
        composites = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceCompositeNode")
        for i in range(composites.GetNumberOfItems()):
            composites.GetItemAsObject(i).SetForegroundOpacity(float(opacity))

    def run(self, ctNode, segmentationNode, liverIds, tumorIds, model, petNodes=None, device="auto",
            timeout=None, opacity=0.5) -> dict:
        """Synchronous prediction for scripts and tests (the GUI uses :meth:`start` + polling)."""
        from REACTKDLib.errors import explain_failure

        inputs, process, notes = self.start(ctNode, segmentationNode, liverIds, tumorIds, petNodes, model, device)
        try:
            code = process.wait(timeout, log.info)
            if code != 0:
                raise RuntimeError(explain_failure(process.lines, code, process.cancelled))
            return self.importResults(ctNode, inputs, opacity)
        finally:
            shutil.rmtree(inputs.folder, ignore_errors=True)


class REACTKDTest(ScriptedLoadableModuleTest):
    """In-Slicer tests (Slicer's ctest runs them); the same REACTKDLib logic is tested with slicer-core by
    pytest in Testing/slicer."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_core_importable()
        self.setUp()
        self.test_segments_and_outputs_in_slicer()
        self.setUp()
        self.test_prediction_end_to_end()
        self.setUp()
        self.test_segmentation_result_in_slicer()

    def test_core_importable(self):
        self.assertTrue(REACTKDLogic.coreVersion())

    def _studyNodes(self):
        import numpy as np

        shape = (24, 40, 40)
        z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
        liver = (z - 12) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 10 ** 2
        tumor = ((z - 12) ** 2 + (y - 18) ** 2 + (x - 16) ** 2 <= 3 ** 2) & liver
        ct = np.full(shape, -900, np.int16)
        ct[liver] = 60
        ct[tumor] = 20
        ctNode = slicer.util.addVolumeFromArray(ct, name="CT")
        ctNode.SetSpacing(2.0, 2.0, 3.0)
        ctNode.SetOrigin(-40.0, -40.0, -36.0)
        seg = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Segmentation")
        seg.CreateDefaultDisplayNodes()
        seg.SetReferenceImageGeometryParameterFromVolumeNode(ctNode)
        for name, mask in (("Liver", liver & ~tumor), ("Liver tumor", tumor)):
            sid = seg.GetSegmentation().AddEmptySegment("", name)
            slicer.util.updateSegmentBinaryLabelmapFromArray(mask.astype(np.uint8), seg, sid, ctNode)
        return ctNode, seg, liver, tumor

    def test_segments_and_outputs_in_slicer(self):
        import numpy as np
        import SimpleITK as sitk

        from REACTKDLib.outputs import show_results
        from REACTKDLib.segments import default_segment_choice, segment_names, segments_mask_on_volume

        ctNode, seg, liver, tumor = self._studyNodes()
        liverId, tumorIds = default_segment_choice(segment_names(seg))
        self.assertEqual(len(tumorIds), 1)
        got = segments_mask_on_volume(slicer.mrmlScene, seg, tumorIds, ctNode)
        self.assertTrue(np.array_equal(got.astype(bool), tumor))
        att = sitk.GetImageFromArray(np.where(liver, 0.4, 0).astype(np.float32))
        from REACTKDLib.geometry import volume_to_sitk

        att.CopyInformation(volume_to_sitk(ctNode))
        prediction = {"probabilities": {"1": 0.1, "2": 0.6, "3": 0.3}, "grade": 2, "edges": [{"i": 0, "j": 1, "similarity": 0.8}],
                      "nodes": [{"kind": "liver", "volume_ml": 12.0, "centroid_lps_mm": [0, 0, 0], "attention": 0.4},
                                {"kind": "tumor", "volume_ml": 0.5, "centroid_lps_mm": [4, 4, 0], "attention": 0.6}]}
        for _ in range(2):  # the second run must replace, not add
            out = show_results(slicer.mrmlScene, ctNode, prediction, att, 0.6)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLTableNode"), 2)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLMarkupsLineNode"), 1)
        red = slicer.app.layoutManager().sliceWidget("Red").sliceLogic().GetSliceCompositeNode()
        self.assertEqual(red.GetForegroundVolumeID(), out["attention"].GetID())
        # Slicer's own Inferno colour table is used when present
        self.assertIn("Inferno", out["colors"].GetName())
        slicer.util.setSliceViewerLayers(background=ctNode, foreground=out["attention"], foregroundOpacity=0.6)
        slicer.app.processEvents()
        self.delayDisplay("Segments and outputs OK")

    def test_prediction_end_to_end(self):
        from REACTKDLib.dependencies import missing_requirements

        missing = missing_requirements()
        if missing:
            self.delayDisplay(f"Skipped the end-to-end prediction: missing {missing}")
            return
        import torch

        from reactkd.models import Student
        from reactkd.preprocess import PreprocessConfig
        from reactkd.train.checkpoint import save_checkpoint

        ctNode, seg, liver, tumor = self._studyNodes()
        kwargs = {"init_filters": 8, "fusion_channels": 8, "blocks_down": [1, 1, 1], "head": "region"}
        model = Path(slicer.util.tempDirectory("REACTKDTest")) / "tiny.pt"
        save_checkpoint(model, {"model": Student(**kwargs).state_dict()},
                        {"kind": "student", "model_kwargs": kwargs, "grades": [1, 2, 3],
                         "preprocess": PreprocessConfig(grid_size=32, lesion_crop_size=8).to_dict(),
                         "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"]}})
        from REACTKDLib.segments import default_segment_choice, segment_names

        liverId, tumorIds = default_segment_choice(segment_names(seg))
        logic = REACTKDLogic()
        out = logic.run(ctNode, seg, [liverId], tumorIds, str(model), device="cpu", timeout=300)
        self.assertIn(out["prediction"]["grade"], (1, 2, 3))
        self.assertEqual(out["graph"].GetNumberOfControlPoints(), 2)
        # cancelling a run stops the child process
        inputs, process, _ = logic.start(ctNode, seg, [liverId], tumorIds, None, str(model), "cpu")
        process.cancel()
        self.assertIsNotNone(process.wait(30))
        self.assertTrue(process.cancelled)
        shutil.rmtree(inputs.folder, ignore_errors=True)
        self.delayDisplay("End-to-end prediction OK: " + logic.summary(out))

    def test_segmentation_result_in_slicer(self):
        """A result of ``reactkd segment`` (written by the core's writer) loads as the CT's segmentation,
        is pre-selected for Apply by name, and a re-run replaces it."""
        from REACTKDLib.dependencies import missing_requirements

        if missing_requirements():
            self.delayDisplay("Skipped the segmentation result test: core packages missing")
            return
        import numpy as np
        import SimpleITK as sitk

        from reactkd.segment.writer import write_masks
        from REACTKDLib.geometry import volume_to_sitk
        from REACTKDLib.segmentation import load_segmentation_result
        from REACTKDLib.segments import default_segment_choice, segment_names, segments_mask_on_volume

        ctNode, _, liver, tumor = self._studyNodes()
        labels = sitk.GetImageFromArray(np.where(tumor, 2, np.where(liver, 1, 0)).astype(np.uint8))
        labels.CopyInformation(volume_to_sitk(ctNode))
        folder = Path(slicer.util.tempDirectory("REACTKDTest-seg"))
        path = write_masks(labels, folder)["seg_nrrd"]
        first = load_segmentation_result(slicer.mrmlScene, ctNode, path)
        again = load_segmentation_result(slicer.mrmlScene, ctNode, path)
        self.assertEqual(first.GetID(), again.GetID())
        liverId, tumorIds = default_segment_choice(segment_names(again))
        got = segments_mask_on_volume(slicer.mrmlScene, again, tumorIds, ctNode)
        self.assertTrue(np.array_equal(got.astype(bool), tumor))
        shutil.rmtree(folder, ignore_errors=True)
        self.delayDisplay("Segmentation result OK")
