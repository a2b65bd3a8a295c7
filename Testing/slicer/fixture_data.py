"""Test data built from the real TotalSegmentator fixture (never copied into the repository): a Slicer
``.seg.nrrd`` with the liver and two synthetic tumours, and a tiny untrained student checkpoint. Shared by
the tests (conftest.py) and scripts/slicer_screenshot.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_liver_tumour_segmentation(labels_path, out_path) -> dict:
    """Write ``out_path`` (``.seg.nrrd``, with slicerio) from a TotalSegmentator label map: "Liver" (label
    5, minus the tumours), "Tumor 1" and "HCC lesion 2" (balls of radius 3 and 2 voxels inside the liver)
    and an unrelated "Spleen" (label 1). Returns ``{name: (Z, Y, X) bool array on the label map's grid}``."""
    import SimpleITK as sitk
    import slicerio

    labels = sitk.ReadImage(str(labels_path))
    lab = sitk.GetArrayFromImage(labels)
    liver = lab == 5
    idx = np.argwhere(liver)
    zz, yy, xx = np.ogrid[: lab.shape[0], : lab.shape[1], : lab.shape[2]]
    c1, c2 = idx[len(idx) // 3], idx[(2 * len(idx)) // 3]
    t1 = ((zz - c1[0]) ** 2 + (yy - c1[1]) ** 2 + (xx - c1[2]) ** 2 <= 9) & liver
    t2 = ((zz - c2[0]) ** 2 + (yy - c2[1]) ** 2 + (xx - c2[2]) ** 2 <= 4) & liver & ~t1
    masks = {"Liver": liver & ~t1 & ~t2, "Tumor 1": t1, "HCC lesion 2": t2, "Spleen": lab == 1}
    volume = np.zeros(lab.shape, np.uint8)
    segments = []
    for value, (name, mask) in enumerate(masks.items(), start=1):
        volume[mask] = value
        segments.append({"id": f"Segment_{value}", "name": name, "labelValue": value, "layer": 0,
                         "color": [0.5, 0.5 + 0.1 * value, 0.2]})
    # slicerio wants voxels in IJK order (I fastest = x) and an IJK→LPS matrix
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3] = np.asarray(labels.GetDirection()).reshape(3, 3) @ np.diag(labels.GetSpacing())
    ijk_to_lps[:3, 3] = labels.GetOrigin()
    slicerio.write_segmentation(str(out_path), {"voxels": volume.transpose(2, 1, 0).copy(), "ijkToLPS": ijk_to_lps,
                                                "encoding": "gzip", "segments": segments})
    return masks


def write_tiny_student(path) -> Path:
    """An untrained tiny CT-only student as a real checkpoint (what ``reactkd predict`` loads): enough to
    exercise the plumbing; its grades mean nothing."""
    import torch

    from reactkd.models import Student
    from reactkd.preprocess import PreprocessConfig
    from reactkd.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    kwargs = {"init_filters": 8, "fusion_channels": 8, "blocks_down": [1, 1, 1], "head": {"kind": "region"}}
    return save_checkpoint(path, {"model": Student(**kwargs).state_dict()},
                           {"kind": "student", "fold": 0, "grades": [1, 2, 3], "model_kwargs": kwargs,
                            "preprocess": PreprocessConfig(grid_size=32).to_dict(),
                            "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"]}})


def train_tiny_seg_model(run_dir) -> Path:
    """A real ``seg-distill`` run folder (teacher + student ``best.pt``) trained for 1 epoch at tiny sizes on
    3 phantom patients (a few seconds): what ``reactkd segment --model RUN`` loads. Its masks mean little;
    it exercises the plumbing."""
    import torch

    from reactkd.segment.config import seg_config_from_mapping
    from reactkd.segment.experiment import run_seg_distill

    stage = {"epochs": 1, "batch_size": 2, "optimizer": {"name": "adamw", "lr": 0.003}}
    config = seg_config_from_mapping({
        "name": "tiny-seg", "device": "cpu",
        "data": {"phantom_patients": 3, "spacing_mm": 12.0, "patch_size": 16, "patches_per_case": 1,
                 "val_share": 0.2, "test_share": 0.0},
        "teacher": {"family": "segresnet", "kwargs": {"init_filters": 8, "blocks_down": [1, 1], "blocks_up": [1]}},
        "student": {"shrink": 1, "min_channels": 4},
        "stage1": stage, "stage2": stage,
        "distiller": {"name": "seg_reco", "kwargs": {"num_positions": 16, "levels": ["enc2", "dec1"]}}})
    import reactkd.phantom.cohort as phantom

    original = phantom.generate_cohort
    # the phantom's default 96×96×64 grid is more than plumbing needs (seg_records looks it up at call time)
    phantom.generate_cohort = lambda out, n, seed, size=(48, 48, 32): original(out, n, seed, size)
    threads = torch.get_num_threads()
    try:
        return run_seg_distill(config, Path(run_dir), log=lambda *_: None)
    finally:
        phantom.generate_cohort = original
        torch.set_num_threads(threads)


def tiny_experiment_config(manifest, **overrides):
    """The core suite's tiny experiment config (``Testing/conftest.py``: 2 folds, 32³ grid, 1 epoch per stage),
    loaded by path because this folder's own conftest shadows the name."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("reactkd_core_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.tiny_experiment(manifest, **overrides)


def finish_tiny_run(manifest, run_dir) -> Path:
    """A tiny run finished the way ``reactkd demo`` finishes one: trained, Table III (missing modality)
    evaluated, the report written (which calibrates the fold students and records the training domain)."""
    from reactkd.experiments import robustness_table
    from reactkd.experiments.cross_validation import run_experiment
    from reactkd.report.run_report import write_report

    run = Path(run_dir)
    run_experiment(tiny_experiment_config(manifest), run, log=lambda *_: None)
    robustness_table(run)
    write_report(run, title="tiny")
    return run


def ship_script():
    """``scripts/ship_demo_model.py`` imported by path (scripts/ is not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "ship_demo_model.py"
    spec = importlib.util.spec_from_file_location("ship_demo_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def add_mask_segment(segmentation_node, segment_id: str, name: str, mask, volume_node) -> str:
    """Add a segment from a ``(Z, Y, X)`` 0/1 array on ``volume_node``'s grid, as a binary labelmap with
    the volume's geometry. (slicer-core registers no representation converters, so ``AddEmptySegment``
    cannot make the empty labelmap that Slicer's ``updateSegmentBinaryLabelmapFromArray`` starts from.)"""
    import slicer
    import vtk
    from vtk.util import numpy_support

    mask = np.ascontiguousarray(np.asarray(mask, dtype=np.uint8))
    image = slicer.vtkOrientedImageData()
    image.SetDimensions(*reversed(mask.shape))
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())[:] = mask.ravel()
    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    image.SetImageToWorldMatrix(matrix)
    segment = slicer.vtkSegment()
    segment.SetName(name)
    segment.AddRepresentation(slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName(), image)
    if not segmentation_node.GetSegmentation().AddSegment(segment, segment_id):
        raise ValueError(f"could not add segment {segment_id!r}")
    return segment_id
