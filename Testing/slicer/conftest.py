"""Fixtures for the Slicer-facing logic (REACTKD/REACTKDLib) against real MRML from the PyPI package
``slicer-core`` (no Slicer application: no ``slicer.app``, no ``slicer.mrmlScene``, no Qt)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mrml_env import import_slicer_core

ROOT = Path(__file__).resolve().parents[2]
slicer, SLICER_MISSING = import_slicer_core()  # test modules skip themselves (mrml_env.require_slicer)
sys.path.insert(0, str(ROOT / "REACTKD"))  # REACTKDLib lives beside the core, as in the Slicer module folder


def _register_segmentation_converters() -> None:
    """Register the segment representation converters, as Slicer's Segmentations module does at start-up;
    without them a bare slicer-core cannot make an empty binary labelmap (``AddEmptySegment``) or copy a
    segment between segmentations (``CopySegmentFromSegmentation``)."""
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    registered = ({rule.GetClassName() for rule in factory.GetConverterRules()}
                  if hasattr(factory, "GetConverterRules") else set())
    for name in ("vtkBinaryLabelmapToClosedSurfaceConversionRule", "vtkClosedSurfaceToBinaryLabelmapConversionRule"):
        if name not in registered:
            factory.RegisterConverterRule(getattr(slicer, name)())


if slicer is not None:
    _register_segmentation_converters()


@pytest.fixture
def scene():
    return slicer.vtkMRMLScene()


def _load_volume(scene, path, name="CT", label=False):
    node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode" if label else "vtkMRMLScalarVolumeNode", name)
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(node), path
    node.SetAndObserveStorageNodeID(storage.GetID())
    return node


@pytest.fixture
def load_volume():
    """``load_volume(scene, path, name, label=False)``: a volume node read by Slicer's own archetype
    storage node (what Add Data does)."""
    return _load_volume


@pytest.fixture
def real_ct_path(real_dir):
    return real_dir / "totalsegmentator" / "example_ct_sm.nii.gz"


@pytest.fixture
def real_seg_nrrd(real_dir, tmp_path):
    """``(path, {segment name: (Z, Y, X) bool array on the CT grid})`` of a ``.seg.nrrd`` written with
    slicerio: "Liver", "Tumor 1", "HCC lesion 2" (synthetic, inside the liver) and "Spleen"."""
    from fixture_data import write_liver_tumour_segmentation

    path = tmp_path / "Segmentation.seg.nrrd"
    masks = write_liver_tumour_segmentation(real_dir / "totalsegmentator" / "example_seg.nii.gz", path)
    return path, masks


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An untrained tiny CT-only student checkpoint (plumbing only; its grades mean nothing)."""
    from fixture_data import write_tiny_student

    return write_tiny_student(tmp_path_factory.mktemp("model") / "best.pt")


@pytest.fixture(scope="session")
def tiny_seg_run(tmp_path_factory):
    """A ``seg-distill`` run folder with a tiny seg teacher and student trained for 1 epoch (plumbing only)."""
    from fixture_data import train_tiny_seg_model

    return train_tiny_seg_model(tmp_path_factory.mktemp("seg") / "run")


@pytest.fixture(scope="session")
def finished_tiny_run(tiny_cohort, tmp_path_factory):
    """A tiny run finished as ``reactkd demo`` finishes one: trained, Table III, calibrated report."""
    from fixture_data import finish_tiny_run

    return finish_tiny_run(tiny_cohort, tmp_path_factory.mktemp("demo") / "run")


@pytest.fixture(scope="session")
def shipped_tiny(finished_tiny_run, tmp_path_factory):
    """``(model folder, sample folder)`` written by ``scripts/ship_demo_model.py`` from the tiny run: the
    shipped synthetic model and phantom sample case as the extension carries them, at test size."""
    from fixture_data import ship_script

    out = tmp_path_factory.mktemp("shipped")
    code = ship_script().main(["--run", str(finished_tiny_run), "--model-out", str(out / "model"),
                               "--sample-out", str(out / "sample"), "--sample-seed", "5"])
    assert code == 0
    return out / "model", out / "sample"
