"""The REACTKD module's in-Slicer self-test (Slicer's ctest and "Reload and Test" run it).

Slicer looks the class up as ``REACTKD.REACTKDTest``; the module file re-exports it from here so that it
stays a thin widget + logic. The module's logic and widget are reached as Slicer hands them out
(``slicer.util.getModuleLogic``, ``slicer.modules.reactkd``), never by importing the module file. The
core is imported only by the tests that need it, after checking its packages are there. A test that
cannot run here (the core's packages missing, the shipped model or sample case absent) says so with
``skipTest``, which unittest reports as skipped, never as passed; :func:`run_tests` (``runTest``) runs
the others and raises ``SkipTest`` at the end listing them. The same REACTKDLib functions and the panels
(with stand-in Qt widgets) are tested outside Slicer with slicer-core by pytest in ``Testing/slicer``.
"""

from __future__ import annotations

import shutil
import time
import unittest
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest

from REACTKDLib.commands import MODULE_DIR
from REACTKDLib.dependencies import missing_requirements
from REACTKDLib.geometry import volume_to_sitk
from REACTKDLib.model_card import card_problems, read_card
from REACTKDLib.model_picker import shipped_model_dir
from REACTKDLib.outputs import show_results
from REACTKDLib.provenance import MODEL_COLUMN, table_banner
from REACTKDLib.sample_data import read_sample_record, sample_folder
from REACTKDLib.segmentation import load_segmentation_result
from REACTKDLib.segments import default_segment_choice, segment_names, segments_mask_on_volume
from REACTKDLib.topology import fix_attention_scale, highlight_region, region_labels, update_region_map
from REACTKDLib.worker import stop_all_workers

__all__ = ["REACTKDTest", "run_tests"]


def run_tests(case, tests) -> None:
    """Run ``tests`` (bound test methods of ``case``) after ``case.setUp()`` each; a failure propagates
    at once; skipped ones are collected and raised together as ``unittest.SkipTest`` at the end."""
    skipped = []
    for test in tests:
        case.setUp()
        try:
            test()
        except unittest.SkipTest as reason:
            skipped.append(f"{test.__name__}: {reason}")
            case.delayDisplay(f"SKIPPED {test.__name__}: {reason}")
        finally:
            case.tearDown()
    if skipped:
        raise unittest.SkipTest("; ".join(skipped))


class REACTKDTest(ScriptedLoadableModuleTest):
    """In-Slicer tests (Slicer's ctest runs them); the same REACTKDLib logic is tested with slicer-core by
    pytest in Testing/slicer."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def tearDown(self):
        stop_all_workers()

    def runTest(self):
        run_tests(self, [self.test_segments_and_outputs_in_slicer, self.test_core_importable,
                         self.test_shipped_model_grades_the_sample_case, self.test_widget_grades_the_sample_case,
                         self.test_cancel_stops_the_worker, self.test_segmentation_result_in_slicer])

    # -- helpers ---------------------------------------------------------------------------------------

    def _requireCore(self):
        missing = missing_requirements()
        if missing:
            self.skipTest(f"the core's packages are missing ({missing}): press Apply in REACT-KD to install them")

    def _requireShipped(self) -> Path:
        model = shipped_model_dir(MODULE_DIR)
        card = read_card(model)
        if card is None:
            self.skipTest(f"no shipped model in {model} (scripts/ship_demo_model.py writes it)")
        if read_sample_record(sample_folder(MODULE_DIR)) is None:
            self.skipTest(f"no phantom sample case in {sample_folder(MODULE_DIR)}")
        self.assertEqual(card_problems(model, card), [])
        return model

    def _studyNodes(self):
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

    def _checkResultNodes(self, ctNode, out, banner: bool):
        grades = out["grades"]
        self.assertEqual(grades.GetNumberOfRows(), 3)
        total = sum(grades.GetTable().GetValueByName(r, "Probability").ToDouble() for r in range(3))
        self.assertAlmostEqual(total, 1.0, places=3)
        model_column = grades.GetTable().GetColumnByName(MODEL_COLUMN)
        self.assertIsNotNone(model_column)
        self.assertEqual("SYNTHETIC" in model_column.GetValue(0), banner)
        self.assertEqual(bool(table_banner(grades)), banner)
        self.assertEqual(out["nodes"].GetNumberOfRows(), len(out["prediction"]["nodes"]))
        red = slicer.app.layoutManager().sliceWidget("Red").sliceLogic().GetSliceCompositeNode()
        self.assertEqual(red.GetBackgroundVolumeID(), ctNode.GetID())
        self.assertEqual(red.GetForegroundVolumeID(), out["attention"].GetID())
        display = out["attention"].GetDisplayNode()
        self.assertEqual((display.GetWindowLevelMin(), display.GetWindowLevelMax()), (0.0, 1.0))
        attention = slicer.util.arrayFromVolume(out["attention"])
        self.assertGreater(attention.max(), 0.0)
        self.assertLessEqual(attention.max(), 1.0)

    # -- tests -----------------------------------------------------------------------------------------

    def test_segments_and_outputs_in_slicer(self):
        ctNode, seg, liver, tumor = self._studyNodes()
        liverId, tumorIds = default_segment_choice(segment_names(seg))
        self.assertEqual(len(tumorIds), 1)
        got = segments_mask_on_volume(slicer.mrmlScene, seg, tumorIds, ctNode)
        self.assertTrue(np.array_equal(got.astype(bool), tumor))
        reference = volume_to_sitk(ctNode)
        att = sitk.GetImageFromArray(np.where(liver, 0.4, 0).astype(np.float32))
        att.CopyInformation(reference)
        prediction = {"probabilities": {"1": 0.1, "2": 0.6, "3": 0.3}, "grade": 2,
                      "edges": [{"i": 0, "j": 1, "similarity": 0.8}],
                      "nodes": [{"kind": "liver", "volume_ml": 12.0, "centroid_lps_mm": [0, 0, 0], "attention": 0.4},
                                {"kind": "tumor", "volume_ml": 0.5, "centroid_lps_mm": [4, 4, 0], "attention": 0.6}]}
        for _ in range(2):  # the second run must replace, not add
            out = show_results(slicer.mrmlScene, ctNode, prediction, att, 0.6)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLTableNode"), 2)
        self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLMarkupsLineNode"), 1)
        red = slicer.app.layoutManager().sliceWidget("Red").sliceLogic().GetSliceCompositeNode()
        self.assertEqual(red.GetForegroundVolumeID(), out["attention"].GetID())
        # Slicer's own Inferno colour table, not the module's fallback copy
        builtin = slicer.mrmlScene.GetFirstNodeByName("Inferno")
        self.assertIsNotNone(builtin, "Slicer's built-in Inferno colour table is missing")
        self.assertEqual(out["colors"].GetID(), builtin.GetID())
        fix_attention_scale(out["attention"])
        display = out["attention"].GetDisplayNode()
        self.assertEqual((display.GetWindowLevelMin(), display.GetWindowLevelMax()), (0.0, 1.0))
        labels_image, per_node = region_labels(sitk.Cast(att > 0, sitk.sitkUInt8), None, prediction["nodes"][:1])
        update_region_map(slicer.mrmlScene, ctNode, labels_image, ["liver"])
        self.assertTrue(highlight_region(slicer.mrmlScene, ctNode, 0))
        self.assertEqual(per_node, [1])
        slicer.app.processEvents()
        self.delayDisplay("Segments and outputs OK")

    def test_core_importable(self):
        self._requireCore()
        import reactkd  # the core in Slicer's Python: its packages are there (checked above)

        self.assertTrue(reactkd.__version__)

    def test_shipped_model_grades_the_sample_case(self):
        """The shipped synthetic model grades the phantom sample case from Sample Data, end to end."""
        self._requireCore()
        model = self._requireShipped()
        logic = slicer.util.getModuleLogic("REACTKD")
        nodes = logic.loadSampleCase()
        liverId, tumorIds = default_segment_choice(segment_names(nodes["segmentation"]))
        self.assertTrue(liverId and tumorIds)
        pets = {"fdg": nodes["pet_fdg"], "acetate": nodes["pet_acetate"]}
        out = logic.run(nodes["ct"], nodes["segmentation"], [liverId], tumorIds, str(model), pets, device="cpu",
                        timeout=600)
        self.assertIn(out["prediction"]["grade"], (1, 2, 3))
        self.assertEqual(out["prediction"]["domain_warnings"], [])  # the sample is what the model learnt from
        self._checkResultNodes(nodes["ct"], out, banner=True)
        self.assertTrue(out["banner"])
        self.delayDisplay("Shipped model on the sample case: " + logic.summary(out))

    def test_widget_grades_the_sample_case(self):
        """Drive the panel: load the sample, press Apply, wait while Slicer draws, check what it shows."""
        self._requireCore()
        model = self._requireShipped()
        slicer.util.selectModule("REACTKD")
        widget = slicer.modules.reactkd.widgetRepresentation().self()
        widget.inputs.load_sample()
        p = widget._parameterNode
        p.modelPath = model
        p.device = "cpu"
        self.assertTrue(widget.ui.applyButton.enabled, widget.ui.applyButton.toolTip)
        self.assertTrue(widget.ui.bannerLabel.visible)  # the model is synthetic: banner before any result
        widget.grading.apply()
        self.assertEqual(widget.ui.applyButton.text, "Cancel")
        deadline = time.monotonic() + 600
        while widget.jobs.busy and time.monotonic() < deadline:
            slicer.app.processEvents()
            time.sleep(0.05)
        self.assertFalse(widget.jobs.busy, "grading did not finish in 10 minutes")
        self.assertEqual(widget.ui.applyButton.text, "Apply")
        self.assertIn("Predicted Edmondson", widget.ui.resultLabel.text)
        self.assertTrue(widget.ui.bannerLabel.visible and "SYNTHETIC" in widget.ui.bannerLabel.text)
        self.assertEqual(widget.ui.problemLabel.text, "")
        rows = widget.ui.regionsTable.rowCount
        self.assertGreaterEqual(rows, 2)
        widget.ui.regionsTable.selectRow(1)
        self.assertIn("tumour", widget.ui.nodeDetailsLabel.text)
        self.delayDisplay("Widget Apply OK: " + widget.ui.resultLabel.text)

    def test_cancel_stops_the_worker(self):
        """Cancelling a grading job stops the worker's process tree; the next job starts a fresh one."""
        self._requireCore()
        import torch  # the core's packages: there (checked above)

        from reactkd.models import Student
        from reactkd.preprocess import PreprocessConfig
        from reactkd.train.checkpoint import save_checkpoint

        ctNode, seg, liver, tumor = self._studyNodes()
        kwargs = {"init_filters": 8, "fusion_channels": 8, "blocks_down": [1, 1, 1], "head": "region"}
        model = Path(slicer.util.tempDirectory("REACTKDTest")) / "tiny.pt"
        torch.manual_seed(0)
        save_checkpoint(model, {"model": Student(**kwargs).state_dict()},
                        {"kind": "student", "model_kwargs": kwargs, "grades": [1, 2, 3],
                         "preprocess": PreprocessConfig(grid_size=32).to_dict(),
                         "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"]}})
        liverId, tumorIds = default_segment_choice(segment_names(seg))
        logic = slicer.util.getModuleLogic("REACTKD")
        inputs, job, _ = logic.start(ctNode, seg, [liverId], tumorIds, None, str(model), "cpu")
        job.cancel()
        self.assertIsNotNone(job.wait(30))
        self.assertTrue(job.cancelled)
        shutil.rmtree(inputs.folder, ignore_errors=True)
        out = logic.run(ctNode, seg, [liverId], tumorIds, str(model), device="cpu", timeout=300)
        self.assertEqual(out["graph"].GetNumberOfControlPoints(), 2)
        self._checkResultNodes(ctNode, out, banner=False)
        self.delayDisplay("Cancel, then a fresh worker: " + logic.summary(out))

    def test_segmentation_result_in_slicer(self):
        """A result of ``reactkd segment`` (written by the core's writer) loads as the CT's segmentation,
        is pre-selected for Apply by name, and a re-run replaces it."""
        self._requireCore()
        from reactkd.segment.writer import write_masks  # the core: its packages are there (checked above)

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
