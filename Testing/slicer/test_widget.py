"""The REACTKD panel itself, in pytest: the module file's widget on slicer-core MRML with Slicer's real
``ScriptedLoadableModule``/``parameterNodeWrapper``/``slicer.util`` and stand-in Qt widgets built from its
``.ui`` (:mod:`widget_env`). Grading runs for real: the tiny shipped model's persistent worker grades the
phantom sample case loaded through a Sample Data stand-in.

Covered: setup (model picker, banner, one-line problems), Apply → Cancel → Apply on the timer, results
(banner in the panel and the grade table, region table → slice views jump and the region is outlined,
layout with a table view), the warm worker reused and restarted after a death, the model picker's memory
and its one-line verdicts, segment choices that persist, the CT selector's filter, batch grading on the
timer, scene close and application exit stopping jobs, and TotalSegmentator through a stand-in of its
logic.
"""

from __future__ import annotations

import shutil
import time
import types

import numpy as np
import pytest
from mrml_env import require_slicer
from slicer_code import SLICER_PYTHON, missing

slicer = require_slicer()
if missing(SLICER_PYTHON):
    pytest.skip(missing(SLICER_PYTHON), allow_module_level=True)

import qt_services  # noqa: E402
from fixture_data import add_mask_segment  # noqa: E402
from widget_env import WidgetEnvironment  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def env(shipped_tiny, tmp_path, monkeypatch):
    """The environment with the tiny shipped model and sample case standing in for the extension's."""
    import REACTKDLib.model_picker as model_picker
    import REACTKDLib.sample_data as sample_data

    model, sample = shipped_tiny
    monkeypatch.setattr(model_picker, "shipped_model_dir", lambda module_dir: model)
    monkeypatch.setattr(sample_data, "sample_folder", lambda module_dir: sample)
    monkeypatch.delenv("REACTKD_MODEL", raising=False)
    scene = slicer.vtkMRMLScene()
    environment = WidgetEnvironment(slicer, scene, tmp_path / "slicer-temp")
    environment.views = environment.add_slice_views(scene)
    environment.model, environment.sample = model, sample
    yield environment
    environment.close()


def _wait(widget, timeout=180.0):
    """Let the panel's timer run until its job is done (as Slicer's event loop would)."""
    end = time.monotonic() + timeout
    while widget.jobs.busy and time.monotonic() < end:
        qt_services.tick()
        time.sleep(0.05)
    assert not widget.jobs.busy, "the job did not finish"


def test_setup_offers_the_shipped_model_with_its_banner(env):
    w = env.widget()
    labels = [text for text, _ in w.ui.modelComboBox.items]
    assert labels[0] == "REACT-KD demonstration model (synthetic phantom)" and labels[-1] == "Browse run folder…"
    p = w._parameterNode
    assert p.modelPath == env.model and w.ui.modelComboBox.currentIndex == 0
    assert w.ui.bannerLabel.visible and w.ui.bannerLabel.text.startswith("SYNTHETIC DEMONSTRATION MODEL")
    assert "2 fold students" in w.ui.modelStatusLabel.text
    assert not w.ui.applyButton.enabled
    assert w.ui.problemLabel.text == "Select a CT volume (or load the phantom sample case)."
    assert "\n" not in w.ui.problemLabel.text
    assert [key for _, key in w.ui.segmentSourceComboBox.items] == ["reactkd"]  # no TotalSegmentator here


def test_apply_cancel_then_apply_grades_the_sample_with_the_banner(env):
    from REACTKDLib.outputs import nodes_by_class
    from REACTKDLib.provenance import MODEL_COLUMN
    from REACTKDLib.worker import worker_for

    w = env.widget()
    w.ui.loadSampleButton.click()
    p = w._parameterNode
    assert p.ctVolume.GetName() == "REACTKD phantom CT" and p.petFdgVolume is not None
    assert w.ui.liverSegmentComboBox.currentText == "liver"
    assert [w.ui.tumorSegmentsList.item(i).checkState() for i in range(2)] == [qt_services.Qt.Unchecked,
                                                                               qt_services.Qt.Checked]
    # the CT selector hides the PETs (and would hide label maps and outputs)
    hidden = w.ui.ctSelector.sortFilterProxyModel().hiddenNodeIDs
    assert (p.petFdgVolume.GetID() in hidden and p.petAcetateVolume.GetID() in hidden
            and p.ctVolume.GetID() not in hidden)
    assert w.ui.applyButton.enabled and w.ui.problemLabel.text == ""

    w.ui.applyButton.click()  # Apply …
    assert w.ui.applyButton.text == "Cancel" and w.ui.progressBar.visible and not w.ui.inputsCollapsibleButton.enabled
    assert w.jobs.timer.isActive()
    w.ui.applyButton.click()  # … Cancel
    _wait(w)
    assert w.ui.applyButton.text == "Apply" and "Cancelled." in w.ui.logText.lines
    assert w.ui.problemLabel.text == "" and not w.jobs.timer.isActive()

    w.ui.applyButton.click()  # Apply again: a fresh worker
    _wait(w)
    assert w.ui.problemLabel.text == "", w.ui.logText.toPlainText()
    assert (w.ui.resultLabel.text.startswith("SYNTHETIC DEMONSTRATION MODEL")
            and "Predicted Edmondson" in w.ui.resultLabel.text)
    assert w.ui.bannerLabel.visible
    grades = w.logic.gradeTable(p.ctVolume)
    column = grades.GetTable().GetColumnByName(MODEL_COLUMN)
    assert [column.GetValue(r) for r in range(3)] == [column.GetValue(0)] * 3 and "SYNTHETIC" in column.GetValue(0)
    assert grades.GetAttribute("REACTKD.Synthetic") == "true"
    # the result tables are shown in a layout with a table view
    layout = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLLayoutNode")
    assert layout.GetViewArrangement() == slicer.vtkMRMLLayoutNode.SlicerLayoutFourUpTableView
    assert slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLTableViewNode").GetTableNodeID() == grades.GetID()
    assert env.app.propagated >= 1
    # the region table: selecting the tumour jumps the slice views to its centroid and outlines it
    _, prediction = w.topology.result
    assert w.ui.regionsTable.rowCount == len(prediction["nodes"]) >= 2
    assert w.ui.regionsTable.item(1, 0).text == "tumour 1"
    w.ui.regionsTable.selectRow(1)
    assert w.ui.nodeDetailsLabel.text.startswith("tumour 1: tumour, ")
    from REACTKDLib.geometry import lps_to_ras

    centroid = lps_to_ras(prediction["nodes"][1]["centroid_lps_mm"])
    red, red_composite = env.views[0]
    slice_to_ras = red.GetSliceToRAS()
    np.testing.assert_allclose([slice_to_ras.GetElement(i, 3) for i in range(3)], centroid, atol=1e-6)
    region_map = next(n for n in nodes_by_class(slicer.mrmlScene, "vtkMRMLLabelMapVolumeNode")
                      if n.GetAttribute("REACTKD.Role") == "regions-map")
    assert red_composite.GetLabelVolumeID() == region_map.GetID() and red.GetUseLabelOutline()
    # edges shown / hidden from the panel
    w.ui.showEdgesCheckBox.checked = False
    lines = nodes_by_class(slicer.mrmlScene, "vtkMRMLMarkupsLineNode")
    assert lines and all(not n.GetDisplayNode().GetVisibility() for n in lines)
    # the worker stays warm: a second Apply reuses it
    worker = worker_for(str(env.model), "auto")
    assert worker.alive
    w.ui.applyButton.click()
    _wait(w)
    assert worker.alive and worker.restarts == 0 and w.ui.problemLabel.text == ""


def test_a_dead_worker_is_restarted_and_said_so(env):
    from REACTKDLib.worker import worker_for

    w = env.widget()
    w.ui.loadSampleButton.click()
    w.ui.applyButton.click()
    _wait(w)
    worker = worker_for(str(env.model), "auto")
    import os
    import signal

    os.kill(worker._process.pid, signal.SIGKILL)  # the worker dies between two Applies
    worker._process.wait(10)
    w.ui.applyButton.click()
    _wait(w)
    assert worker.restarts == 1 and any("was restarted" in line for line in w.ui.logText.lines)
    assert w.ui.problemLabel.text == ""


def test_model_picker_remembers_folders_and_names_each_bad_model(env, tmp_path):
    w = env.widget()
    p = w._parameterNode
    empty = tmp_path / "not a run"
    empty.mkdir()
    qt_services.QFileDialog.answers.append(str(empty))
    w.ui.modelComboBox.currentIndex = w.ui.modelComboBox.count - 1  # "Browse run folder…"
    assert p.modelPath == empty
    assert qt_services.QSettings.store["REACTKD/RecentModels"] == [str(empty)]
    assert w.ui.problemLabel.text.startswith(f"{empty} holds no trained student") and not w.ui.applyButton.enabled
    assert not w.ui.bannerLabel.visible  # no synthetic model chosen
    # the folder stays offered after the model changes back
    w.ui.modelComboBox.currentIndex = 0
    assert p.modelPath == env.model
    assert any(path == str(empty) for _, path in [(c.label, c.path) for c in w.picker.choices])
    # a card that disagrees, a corrupt checkpoint: one line each, naming the problem and what to do
    tampered = tmp_path / "tampered"
    shutil.copytree(env.model, tampered)
    (tampered / "training_domain.json").write_text("{}")
    corrupt = tmp_path / "corrupt"
    shutil.copytree(env.model, corrupt)
    (corrupt / "model_card.json").unlink()
    for side in corrupt.glob("fold*/student/best.json"):
        side.unlink()
    (corrupt / "fold1" / "student" / "best.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    for folder, words in ((tampered, "disagrees with its model card: training_domain.json has 2 bytes"),
                          (corrupt, "Corrupt model file:")):
        qt_services.QFileDialog.answers.append(str(folder))
        w.ui.modelComboBox.currentIndex = w.ui.modelComboBox.count - 1
        assert words in w.ui.problemLabel.text and "\n" not in w.ui.problemLabel.text
        assert not w.ui.applyButton.enabled
    assert qt_services.QSettings.store["REACTKD/RecentModels"][:2] == [str(corrupt), str(tampered)]
    # a cancelled dialog keeps the model in use
    before = p.modelPath
    w.ui.modelComboBox.currentIndex = w.ui.modelComboBox.count - 1
    assert p.modelPath == before


def test_segment_choices_persist_without_a_liver_name(env):
    w = env.widget()
    scene = slicer.mrmlScene
    w.ui.loadSampleButton.click()
    ct = w._parameterNode.ctVolume
    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Manual")
    seg.SetReferenceImageGeometryParameterFromVolumeNode(ct)
    from REACTKDLib.geometry import array_from_volume

    blank = np.zeros(array_from_volume(ct).shape, np.uint8)
    for name in ("Organ", "Lesion A", "Lesion B"):
        add_mask_segment(seg, name, name, blank, ct)
    p = w._parameterNode
    p.segmentation = seg
    assert p.liverSegmentId == "" and p.tumorSegmentIds == ["Lesion A", "Lesion B"]  # by name
    w.ui.liverSegmentComboBox.currentIndex = 0  # the user: "Organ" is the liver …
    w.ui.tumorSegmentsList.item(2).setCheckState(qt_services.Qt.Unchecked)  # … and Lesion B is no tumour
    assert (p.liverSegmentId, p.tumorSegmentIds) == ("Organ", ["Lesion A"])
    p.overlayOpacity = 0.3  # any other change keeps the choice
    add_mask_segment(seg, "Vessel", "Vessel", blank, ct)  # a new segment drawn in the Segment Editor
    qt_services.tick()
    assert (p.liverSegmentId, p.tumorSegmentIds) == ("Organ", ["Lesion A"])
    assert [w.ui.tumorSegmentsList.item(i).checkState() for i in range(4)] == [0, 2, 0, 0]


def test_batch_grading_runs_on_the_timer_with_the_banner(env):
    from REACTKDLib.provenance import MODEL_COLUMN

    w = env.widget()
    w.ui.loadSampleButton.click()
    w.ui.batchButton.click()
    assert w.ui.applyButton.text == "Cancel" and w.ui.progressBar.maximum == 100
    _wait(w)
    assert w.ui.progressBar.value == 100 and w.ui.problemLabel.text == "", w.ui.logText.toPlainText()
    table = slicer.mrmlScene.GetFirstNodeByName("REACTKD batch grades")
    assert table.GetNumberOfRows() == 1
    assert "SYNTHETIC" in table.GetTable().GetColumnByName(MODEL_COLUMN).GetValue(0)


def test_scene_close_and_application_exit_stop_jobs(env):
    from REACTKDLib.process import running_processes

    env.modules["REACTKD"].REACTKD(types.SimpleNamespace(path=str(env.modules["REACTKD"].__file__)))
    w = env.widget()
    w.ui.loadSampleButton.click()
    w.ui.applyButton.click()
    assert running_processes()
    slicer.mrmlScene.Clear(0)  # "Close scene"
    assert not w.jobs.busy and not running_processes()
    assert w.ui.applyButton.text == "Apply"
    w.ui.loadSampleButton.click()
    w.ui.applyButton.click()
    assert running_processes(), (w.ui.problemLabel.text, w.ui.applyButton.enabled, w.ui.logText.lines)
    env.app.emit("aboutToQuit()")
    assert not running_processes()
    qt_services.tick()


def test_slicer_too_old_is_one_line_and_nothing_runs(env, monkeypatch):
    import REACTKDLib.version_check as version_check

    monkeypatch.setattr(env.app, "applicationVersion", "5.8.1")
    w = env.widget()
    assert w.ui.problemLabel.text.startswith("REACT-KD needs 3D Slicer 5.10 or newer")
    assert not w.ui.applyButton.enabled and not w.ui.inputsCollapsibleButton.enabled
    assert version_check.slicer_version_problem((3, 12), "5.10.0") is None


class _TotalSegmentatorLogic:
    """SlicerTotalSegmentator's logic as far as its ``process`` goes: fills the output segmentation with
    the task's classes, IDs as TotalSegmentator names them and names as its terminology labels them."""

    def __init__(self, liver_mask, tumor_mask, tasks=("total", "liver_vessels")):
        self.tasks = {t: {} for t in tasks}
        self.calls = []
        self.masks = {"liver": ("Liver", liver_mask), "liver_tumor": ("Liver tumor", tumor_mask),
                      "liver_vessels": ("Liver vessels", tumor_mask * 0),
                      "liver_lesions": ("Liver lesions", tumor_mask)}
        self.requirements = 0

    def setupPythonRequirements(self, upgrade=False):
        self.requirements += 1

    def process(self, inputVolume, outputSegmentation, quality=None, cpu=False, task=None, subset=None, **kwargs):
        self.calls.append((task, subset, quality, cpu))
        classes = subset or {"liver_vessels": ["liver_vessels", "liver_tumor"],
                             "liver_lesions": ["liver_lesions"]}[task]
        for cls in classes:
            name, mask = self.masks[cls]
            add_mask_segment(outputSegmentation, cls, name, mask, inputVolume)


def test_totalsegmentator_segments_a_ct_through_its_own_logic(env):
    from REACTKDLib.geometry import array_from_volume
    from REACTKDLib.segments import segments_mask_on_volume

    w0 = env.widget()
    w0.ui.loadSampleButton.click()
    nodes = {k: getattr(w0._parameterNode, k) for k in ("ctVolume", "segmentation")}
    liver = segments_mask_on_volume(slicer.mrmlScene, nodes["segmentation"], ["liver"], nodes["ctVolume"])
    tumor = segments_mask_on_volume(slicer.mrmlScene, nodes["segmentation"], ["tumor"], nodes["ctVolume"])
    logic = _TotalSegmentatorLogic(liver, tumor)
    module = types.ModuleType("TotalSegmentator")
    module.TotalSegmentatorLogic = lambda: logic
    module.TotalSegmentatorWidget = type("TotalSegmentatorWidget", (), {
        "__init__": lambda self, parent=None: setattr(self, "logic", logic), "setup": lambda self: None})
    env.add_module("TotalSegmentator", module)
    # a fresh panel sees the installed extension
    w0.exit()
    w0.cleanup()
    env._scripted["REACTKD"]._widget = None
    w = env.widget()
    assert [key for _, key in w.ui.segmentSourceComboBox.items] == ["totalsegmentator", "reactkd"]
    p = w._parameterNode
    p.segmentation = None
    p.device = "cpu"
    assert w.ui.segmentButton.enabled, w.ui.segmentButton.toolTip
    w.ui.segmentButton.click()
    assert logic.calls == [("total", ["liver"], "fast", True), ("liver_vessels", None, "fast", True)]
    assert logic.requirements == 1
    seg = p.segmentation
    assert seg.GetName() == "REACTKD phantom CT liver and tumours (TotalSegmentator)"
    names = [seg.GetSegmentation().GetNthSegment(i).GetName()
             for i in range(seg.GetSegmentation().GetNumberOfSegments())]
    assert names == ["liver", "tumor"]
    assert w.ui.liverSegmentComboBox.currentText == "liver"
    assert [seg.GetSegmentation().GetSegment(t).GetName() for t in p.tumorSegmentIds] == ["tumor"]
    got = segments_mask_on_volume(slicer.mrmlScene, seg, p.tumorSegmentIds, p.ctVolume)
    assert np.array_equal(got.astype(bool), tumor.astype(bool))
    assert array_from_volume(p.ctVolume).shape == got.shape
    # the extension's own result nodes are gone; a re-run replaces the same node
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 2
    p.segmentation = None
    w.ui.segmentButton.click()
    assert p.segmentation.GetID() == seg.GetID()
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 2
    # the phantom's ReCo-KD model stays offered beside it, under the synthetic banner
    assert not w.ui.segmentBannerLabel.visible  # TotalSegmentator chosen
    w.ui.segmentSourceComboBox.currentIndex = 1
    assert qt_services.QSettings.store["REACTKD/SegmentSource"] == "reactkd"
    seg_run = env.temp_dir / "seg-demo"
    (seg_run / "student").mkdir(parents=True)
    (seg_run / "student" / "best.pt").write_bytes(b"x")
    (seg_run / "cohort").mkdir()
    (seg_run / "cohort" / "cohort.json").write_text('{"generator": "reactkd.phantom.cohort"}')
    w.ui.segModelPathLineEdit.currentPath = str(seg_run)
    assert w.ui.segmentBannerLabel.visible and w.ui.segmentBannerLabel.text.startswith("SYNTHETIC")


def test_a_worker_that_dies_mid_case_and_missing_packages_are_one_line(env, monkeypatch):
    import os
    import signal

    import REACTKDGui.install as install
    from REACTKDLib.worker import worker_for

    w = env.widget()
    w.ui.loadSampleButton.click()
    w.ui.applyButton.click()
    worker = worker_for(str(env.model), "auto")
    os.kill(worker._process.pid, signal.SIGKILL)  # killed from outside while grading
    _wait(w)
    assert "stopped" in w.ui.problemLabel.text and "Apply again" in w.ui.problemLabel.text
    assert "\n" not in w.ui.problemLabel.text and w.ui.applyButton.text == "Apply"
    nodes = slicer.mrmlScene.GetNumberOfNodes()
    monkeypatch.setattr(install, "ensure_dependencies", lambda ask=True: install.InstallOutcome(
        False, "Installation declined: REACT-KD cannot grade without these packages."))
    w.ui.applyButton.click()
    assert not w.jobs.busy and w.ui.problemLabel.text.startswith("Installation declined")
    assert slicer.mrmlScene.GetNumberOfNodes() == nodes  # nothing in the scene touched
