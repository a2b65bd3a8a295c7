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
