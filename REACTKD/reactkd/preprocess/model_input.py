"""What the models see of one case, on the model grid, with what is needed to map results back."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reactkd.preprocess.config import PreprocessConfig
from reactkd.preprocess.grid import ModelGrid

__all__ = ["ModelInput"]

_ARRAYS = ("ct", "ct_hu", "pet", "pet_present", "roi_masks", "organ_mask")


@dataclass
class ModelInput:
    """One preprocessed case. Arrays are ``(C, D, H, W)`` on the model grid unless noted.

    Attributes:
        ct: ``(1, D, H, W)`` CT clipped to the HU window, z-scored (the full normalised volume).
        ct_hu: ``(1, D, H, W)`` raw HU (linear resampling, unclipped): input of the low-dose simulation.
        pet: ``(P, D, H, W)`` normalised PET per tracer in :data:`reactkd.io.case.PET_TRACERS` order;
            zeros where absent (``pet_present`` says which, never the zeros).
        pet_present: ``(P,)`` bool.
        roi_masks: ``(R, D, H, W)`` per-node partial-volume fractions in [0, 1]; node 0 = liver.
        organ_mask: ``(D, H, W)`` uint8 liver ∪ tumour mask (nearest neighbour).
        nodes: per node ``kind``, ``label``, ``voxels``, ``volume_ml``, ``centroid_lps_mm`` (CT grid).
        dropped: tumour components under the minimum volume.
        grid: the model grid's world geometry (paint results back with ``grid.paint_back``).
        config: the preprocessing parameters used.
    """

    case_id: str
    patient_id: str
    grade: int | None
    ct: np.ndarray
    ct_hu: np.ndarray
    pet: np.ndarray
    pet_present: np.ndarray
    roi_masks: np.ndarray
    organ_mask: np.ndarray
    nodes: list[dict]
    grid: ModelGrid
    config: PreprocessConfig
    dropped: list[dict] = field(default_factory=list)

    @property
    def num_nodes(self) -> int:
        return int(self.roi_masks.shape[0])

    def metadata(self) -> dict:
        return {
            "case_id": self.case_id, "patient_id": self.patient_id, "grade": self.grade,
            "nodes": self.nodes, "dropped": self.dropped,
            "grid": self.grid.to_dict(), "config": self.config.to_dict(),
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write an ``.npz`` (arrays + JSON metadata, no pickles) atomically: temp file, then rename."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        arrays["metadata"] = np.frombuffer(json.dumps(self.metadata()).encode(), dtype=np.uint8)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ModelInput":
        """Read what :meth:`save` wrote (``allow_pickle=False``: a cache file cannot run code)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["metadata"]).decode())
            arrays = {k: data[k] for k in _ARRAYS}
        return cls(
            case_id=meta["case_id"], patient_id=meta["patient_id"], grade=meta["grade"],
            nodes=meta["nodes"], dropped=meta["dropped"],
            grid=ModelGrid.from_dict(meta["grid"]), config=PreprocessConfig.from_dict(meta["config"]), **arrays,
        )
