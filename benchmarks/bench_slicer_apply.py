"""Apply in the Slicer module, cold and warm: one phantom case graded through REACTKDLib's logic with the
persistent inference worker, against real MRML (slicer-core), on this machine's cores.

Figures (see ``benchmarks/run``):
- ``apply_cold_s``: the first Apply — export the scene's CT and segments, start the worker (``reactkd
  serve``: imports, model load), grade, read the outputs back into the scene (tables, markups, overlay).
- ``apply_warm_s``: a later Apply on the same worker, the median of 5 (the model stays loaded).

The model: ``$REACTKD_BENCH_MODEL`` (a run folder or checkpoint), else the extension's shipped model
(``REACTKD/Resources/Models/demo-synthetic``) when it holds fold students, else a tiny untrained student
(``Testing/slicer/fixture_data.write_tiny_student``; plumbing only). Which one was used goes to stderr.
The phantom case is the embedded cohort's first patient at the demo's 96 × 96 × 64 acquisition grid.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]


def _slicer():
    sys.path[:0] = [str(ROOT / "Testing" / "slicer"), str(ROOT / "REACTKD")]
    from mrml_env import import_slicer_core

    slicer, reason = import_slicer_core()
    if slicer is None:
        raise SystemExit(f"apply_*: {reason}")
    return slicer


def _model(tmp: Path) -> str:
    chosen = os.environ.get("REACTKD_BENCH_MODEL")
    shipped = ROOT / "REACTKD" / "Resources" / "Models" / "demo-synthetic"
    if not chosen and any(shipped.glob("fold*/student/best.pt")):
        chosen = str(shipped)
    if not chosen:
        from fixture_data import write_tiny_student

        chosen = str(write_tiny_student(tmp / "tiny" / "best.pt"))
    print(f"apply_*: model {chosen}", file=sys.stderr)
    return chosen


def _scene_with_case(slicer, tmp: Path):
    from reactkd.cohort import read_manifest
    from reactkd.phantom.cohort import generate_cohort

    record = read_manifest(generate_cohort(tmp / "cohort", 1, seed=0, size=(96, 96, 64)))[0]
    scene = slicer.vtkMRMLScene()

    def volume(path, name, label=False):
        node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode" if label else "vtkMRMLScalarVolumeNode", name)
        storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
        storage.SetFileName(str(path))
        assert storage.ReadData(node), path
        return node

    ct = volume(record.ct, "CT")
    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Segmentation")
    seg.SetReferenceImageGeometryParameterFromVolumeNode(ct)
    for path, name in ((record.liver_mask, "Liver"), (record.tumor_mask, "Tumor")):
        label = volume(path, name, label=True)
        assert slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(label, seg)
        segmentation = seg.GetSegmentation()
        segmentation.GetNthSegment(segmentation.GetNumberOfSegments() - 1).SetName(name)
        scene.RemoveNode(label)
    for _ in range(3):
        scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    return scene, ct, seg


def apply_times() -> dict[str, float]:
    slicer = _slicer()
    from REACTKDLib.commands import predict_args
    from REACTKDLib.errors import wait_or_raise
    from REACTKDLib.inference import export_inputs, read_prediction
    from REACTKDLib.outputs import show_results
    from REACTKDLib.segments import default_segment_choice, segment_names
    from REACTKDLib.worker import InferenceWorker

    with tempfile.TemporaryDirectory(prefix="reactkd-bench-apply-") as folder:
        tmp = Path(folder)
        model = _model(tmp)
        scene, ct, seg = _scene_with_case(slicer, tmp)
        liver, tumors = default_segment_choice(segment_names(seg))
        worker = InferenceWorker(model, "cpu")

        def apply(n: int) -> float:
            t0 = time.perf_counter()
            inputs = export_inputs(scene, ct, seg, [liver], tumors, tmp / f"job{n}")
            job = worker.submit(predict_args(inputs.ct, inputs.liver, inputs.out, inputs.tumor))
            wait_or_raise(job, timeout=600)
            prediction, attention = read_prediction(inputs.out)
            show_results(scene, ct, prediction, attention)
            return time.perf_counter() - t0

        try:
            cold = apply(0)
            warm = [apply(n) for n in range(1, 6)]
        finally:
            worker.stop()
    return {"apply_cold_s": cold, "apply_warm_s": statistics.median(warm)}


def figures() -> dict[str, Callable[[], dict[str, float]]]:
    return {"apply_cold_s,apply_warm_s": apply_times}


ON_REQUEST = ("apply_cold_s,apply_warm_s",)
