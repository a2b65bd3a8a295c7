"""The REACTKD module's in-Slicer self-test (Slicer's ctest and "Reload and Test" run it).

Slicer looks the class up as ``REACTKD.REACTKDTest``; the module file re-exports it from here so that the
module file stays a thin widget + logic. The same REACTKDLib functions are tested outside Slicer with
slicer-core by pytest in ``Testing/slicer``.
"""

import shutil
from pathlib import Path

import slicer
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest

__all__ = ["REACTKDTest"]


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
        from REACTKD import REACTKDLogic

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
        kwargs = {"init_filters": 8, "fusion_channels": 8, "blocks_down": [1, 1, 1], "head": {"kind": "region"}}
        model = Path(slicer.util.tempDirectory("REACTKDTest")) / "tiny.pt"
        save_checkpoint(model, {"model": Student(**kwargs).state_dict()},
                        {"kind": "student", "model_kwargs": kwargs, "grades": [1, 2, 3],
                         "preprocess": PreprocessConfig(grid_size=32).to_dict(),
                         "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"]}})
        from REACTKDLib.segments import default_segment_choice, segment_names

        liverId, tumorIds = default_segment_choice(segment_names(seg))
        from REACTKD import REACTKDLogic

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
