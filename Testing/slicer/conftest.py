"""Fixtures for the Slicer-facing logic (REACTKD/REACTKDLib) against real MRML from the PyPI package
``slicer-core`` (no Slicer application: no ``slicer.app``, no ``slicer.mrmlScene``, no Qt)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _import_slicer_core():
    """slicer-core's ``slicer`` is a namespace-style package (``pkgutil.extend_path``) that imports every
    module of every ``slicer/`` folder on ``sys.path`` — this test folder is one when ``Testing/`` is on
    the path (pytest puts it there for Testing/conftest.py). Import it with this folder hidden."""
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if (Path(p or ".").resolve() / "slicer") != HERE]
    try:
        import slicer
    except ImportError as err:
        pytest.skip(f"slicer-core is not installed ({err}); pip install 'slicer-core>=5.13' 'vtk==9.6.2' "
                    "(the test extra)", allow_module_level=True)
    finally:
        sys.path[:] = saved
    if not hasattr(slicer, "vtkMRMLScene"):
        pytest.skip("the importable `slicer` is not slicer-core's (no vtkMRMLScene)", allow_module_level=True)
    return slicer


slicer = _import_slicer_core()
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
    """A Slicer ``.seg.nrrd`` written with slicerio: "Liver" (TotalSegmentator label 5) and two synthetic
    tumours inside it ("Tumor 1", "HCC lesion 2"), plus an unrelated "Spleen". Returns
    ``(path, {name: (Z, Y, X) bool array on the CT grid})``."""
    import SimpleITK as sitk
    import slicerio

    labels = sitk.ReadImage(str(real_dir / "totalsegmentator" / "example_seg.nii.gz"))
    lab = sitk.GetArrayFromImage(labels)
    liver = lab == 5
    idx = np.argwhere(liver)
    zz, yy, xx = np.ogrid[: lab.shape[0], : lab.shape[1], : lab.shape[2]]
    # Two balls centred on liver voxels away from each other (radius 3 and 2 voxels = 9 and 6 mm).
    c1 = idx[len(idx) // 3]
    c2 = idx[(2 * len(idx)) // 3]
    t1 = ((zz - c1[0]) ** 2 + (yy - c1[1]) ** 2 + (xx - c1[2]) ** 2 <= 9) & liver
    t2 = ((zz - c2[0]) ** 2 + (yy - c2[1]) ** 2 + (xx - c2[2]) ** 2 <= 4) & liver & ~t1
    spleen = lab == 1
    masks = {"Liver": liver & ~t1 & ~t2, "Tumor 1": t1, "HCC lesion 2": t2, "Spleen": spleen}
    volume = np.zeros(lab.shape, np.uint8)
    segments = []
    for value, (name, mask) in enumerate(masks.items(), start=1):
        volume[mask] = value
        segments.append({"id": f"Segment_{value}", "name": name, "labelValue": value, "layer": 0,
                         "color": [0.5, 0.5 + 0.1 * value, 0.2]})
    # slicerio wants voxels in IJK order (I fastest = x) and an IJK→LPS matrix
    direction = np.asarray(labels.GetDirection()).reshape(3, 3)
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3] = direction @ np.diag(labels.GetSpacing())
    ijk_to_lps[:3, 3] = labels.GetOrigin()
    seg = {"voxels": volume.transpose(2, 1, 0).copy(), "ijkToLPS": ijk_to_lps, "encoding": "gzip",
           "segments": segments}
    path = tmp_path / "Segmentation.seg.nrrd"
    slicerio.write_segmentation(str(path), seg)
    return path, masks


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An untrained tiny CT-only student saved as a real checkpoint (what ``reactkd predict`` loads):
    enough to test the plumbing; its grades mean nothing."""
    import torch

    from reactkd.models import Student
    from reactkd.preprocess import PreprocessConfig
    from reactkd.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    kwargs = {"init_filters": 8, "fusion_channels": 8, "blocks_down": [1, 1, 1], "head": "region"}
    student = Student(**kwargs)
    path = tmp_path_factory.mktemp("model") / "best.pt"
    save_checkpoint(path, {"model": student.state_dict()},
                    {"kind": "student", "fold": 0, "grades": [1, 2, 3], "model_kwargs": kwargs,
                     "preprocess": PreprocessConfig(grid_size=32, lesion_crop_size=8).to_dict(),
                     "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"]}})
    return path
