"""Shared fixtures: synthetic images with world geometry, and the real scans beside the project."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import SimpleITK as sitk
import torch

ROOT = Path(__file__).resolve().parents[1]

# One BLAS/OpenMP thread: the tests use tiny tensors, and on the 2-core machine 2 xdist workers × 2
# threads (or another process beside pytest) made OpenMP spin-waiting ~5× slower than 1 thread.
torch.set_num_threads(1)
REAL = ROOT.parent / "shared" / "data" / "real"


def benchmark_script(name: str) -> ModuleType:
    """A script of ``benchmarks/`` imported as a module, for the tests of that script itself."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def crash_at_last_checkpoint(monkeypatch, n: int = 2):
    """Kill a run (``KeyboardInterrupt``) at the ``n``-th write of a ``last.pt``: while it finishes an epoch.
    Returns a function that puts the real checkpoint writer back."""
    import reactkd.train.loop as loop

    real_save, calls = loop.save_checkpoint, {"n": 0}

    def crashing_save(path, *a, **k):
        if path.name == "last.pt":
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt
        return real_save(path, *a, **k)

    monkeypatch.setattr(loop, "save_checkpoint", crashing_save)
    return lambda: monkeypatch.setattr(loop, "save_checkpoint", real_save)


def make_image(array: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None) -> sitk.Image:
    """A SimpleITK image from a ``(Z, Y, X)`` array with the given geometry (ITK x, y, z order)."""
    image = sitk.GetImageFromArray(array)
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(o) for o in origin])
    if direction is not None:
        image.SetDirection([float(d) for d in np.asarray(direction).ravel()])
    return image


def ball(shape, center_zyx, radius) -> np.ndarray:
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    cz, cy, cx = center_zyx
    return (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius**2


@pytest.fixture
def real_dir() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"real scans not found at {REAL} (they live beside the project, not in it)")
    return REAL


@pytest.fixture
def toy_case_images():
    """A 40×48×56 CT (HU) with a liver ball and two tumour balls, spacing (1.5, 1.5, 2.0) mm, origin off zero."""
    shape = (40, 48, 56)
    rng = np.random.default_rng(0)
    ct = np.full(shape, -1000.0, np.float32)
    ct[5:35, 4:44, 4:52] = 40
    liver = ball(shape, (20, 22, 22), 12)
    t1 = ball(shape, (18, 20, 18), 4)
    t2 = ball(shape, (24, 26, 30), 2)
    ct[liver] = 60
    ct[t1 | t2] = 25
    ct += rng.normal(0, 5, shape).astype(np.float32)
    geo = dict(spacing=(1.5, 1.5, 2.0), origin=(-120.0, 30.0, -55.0))
    return {
        "ct": make_image(ct.astype(np.int16), **geo),
        "liver": make_image(liver.astype(np.uint8), **geo),
        "tumor": make_image((t1 | t2).astype(np.uint8), **geo),
        "geo": geo,
        "shape": shape,
    }


def tiny_experiment(manifest, epochs1: int = 1, epochs2: int = 1, **overrides):
    """A validated experiment config with tiny models (2 folds, 32³ grid) on ``manifest``."""
    from reactkd.config import config_from_mapping

    data = {
        "name": "tiny", "device": "cpu",
        "data": {"manifest": str(manifest), "folds": 2, "preprocess": {"grid_size": 32},
                 "augment": True},
        "teacher": {"feature_size": 12, "fusion_channels": 16, "window_size": 4, "depths": [1, 1, 1, 1]},
        "student": {"init_filters": 8, "pet_channels": 2, "blocks_down": [1, 1, 1, 1]},
        "stage1": {"epochs": epochs1, "batch_size": 4},
        "stage2": {"epochs": epochs2, "batch_size": 4},
    }
    data.update(overrides)
    return config_from_mapping(data)


@pytest.fixture(scope="session")
def tiny_cohort(tmp_path_factory) -> Path:
    """A 10-patient embedded-phantom cohort on a small grid (manifest path)."""
    from reactkd.phantom.cohort import generate_cohort

    return generate_cohort(tmp_path_factory.mktemp("cohort") / "c", n_patients=10, seed=3, size=(48, 48, 32))
