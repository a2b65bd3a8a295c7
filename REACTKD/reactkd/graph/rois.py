"""Region-graph nodes of a case: the liver and each tumour connected component.

Nodes are measured on the CT's own grid (after mask refinement): voxel count, volume in ml and the
centroid in world LPS millimetres. Order: the liver first, then tumours by decreasing volume (ties by
position), so node indices are deterministic.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from reactkd.utils.arrays import bounding_box

__all__ = ["RegionNode", "RegionGraph", "extract_regions", "MIN_TUMOR_ML", "CONNECTIVITY"]

CONNECTIVITY = 3
"""Neighbourhood for connected components: 3 = 26-connectivity (voxels touching at a corner are one
object). A lesion touching itself diagonally is one lesion, not two graph nodes."""

MIN_TUMOR_ML = 0.1
"""Default smallest tumour component kept as a node, in ml (0.1 ml ≈ a sphere of 5.8 mm diameter):
smaller specks are usually segmentation noise, and at the 96³ model grid (≈2–3 mm voxels) they span only
a few voxels, too few for a stable pooled feature."""


@dataclass
class RegionNode:
    """One graph node. ``label`` is the component's value in :attr:`RegionGraph.labels` (liver = 1)."""

    kind: str  # "liver" or "tumor"
    label: int
    voxels: int
    volume_ml: float
    centroid_lps_mm: list[float]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RegionGraph:
    """The nodes of one case's region graph with their masks on the CT grid.

    Attributes:
        case_id: the case.
        nodes: liver first, then tumours.
        liver: boolean liver mask ``(Z, Y, X)`` after refinement.
        labels: int32 tumour component labels ``(Z, Y, X)``, 0 outside kept tumours; tumour ``i`` (node
            ``i``) has value ``i + 1``.
        dropped: tumour components under the minimum volume (voxels, volume_ml, centroid).
    """

    case_id: str
    nodes: list[RegionNode]
    liver: np.ndarray
    labels: np.ndarray
    dropped: list[dict] = field(default_factory=list)

    def roi_masks(self) -> list[np.ndarray]:
        """Boolean masks ``[liver, tumour 1, …, tumour k]``, each ``(Z, Y, X)``."""
        return [self.liver] + [self.labels == n.label for n in self.nodes[1:]]

    def summary(self) -> dict:
        return {"case_id": self.case_id, "nodes": [n.to_dict() for n in self.nodes], "dropped": self.dropped}


def _centroid_lps(index_zyx_mean: np.ndarray, reference: sitk.Image) -> list[float]:
    xyz = [float(v) for v in index_zyx_mean[::-1]]
    return [round(c, 3) for c in reference.TransformContinuousIndexToPhysicalPoint(xyz)]


def extract_regions(
    liver: np.ndarray,
    tumor: np.ndarray,
    reference: sitk.Image,
    case_id: str = "case",
    min_tumor_ml: float = MIN_TUMOR_ML,
    connectivity: int = CONNECTIVITY,
) -> RegionGraph:
    """Build the nodes of a case's region graph.

    Args:
        liver: boolean ``(Z, Y, X)`` refined liver mask on ``reference``'s grid.
        tumor: boolean ``(Z, Y, X)`` refined tumour mask on the same grid (may be empty).
        reference: the CT (gives spacing and world geometry).
        case_id: named in errors and warnings.
        min_tumor_ml: tumour components below this volume are dropped and reported (warning + ``dropped``).
        connectivity: 1 (6-), 2 (18-) or 3 (26-neighbourhood).

    Raises:
        ValueError: if the liver mask is empty, shapes disagree, or an argument is out of range.
    """
    expected = tuple(reversed(reference.GetSize()))
    if liver.shape != expected or tumor.shape != expected:
        raise ValueError(
            f"case {case_id}: masks {liver.shape} / {tumor.shape} must match the CT array shape {expected}."
        )
    if not min_tumor_ml >= 0 or min_tumor_ml == float("inf"):  # `nan < 0` is False: test the other way round
        raise ValueError(f"`min_tumor_ml` must be a finite number >= 0, got {min_tumor_ml}.")
    if connectivity not in (1, 2, 3):
        raise ValueError(f"`connectivity` must be 1, 2 or 3, got {connectivity}.")
    voxel_ml = float(np.prod(reference.GetSpacing())) / 1000.0
    liver = liver.astype(bool, copy=False)
    liver_idx = np.argwhere(liver) if liver.any() else None
    if liver_idx is None:
        raise ValueError(f"case {case_id}: the liver mask is empty; every region graph needs a liver node.")
    nodes = [
        RegionNode("liver", 1, int(len(liver_idx)), round(float(len(liver_idx)) * voxel_ml, 4),
                   _centroid_lps(liver_idx.mean(0), reference))
    ]
    labels = np.zeros(liver.shape, dtype=np.int32)
    dropped: list[dict] = []
    box = bounding_box(tumor)
    if box is not None:
        comp, n = ndimage.label(tumor[box], structure=ndimage.generate_binary_structure(3, connectivity))
        offset = np.array([s.start for s in box], dtype=float)
        counts = np.bincount(comp.ravel(), minlength=n + 1)
        centers = ndimage.center_of_mass(np.ones_like(comp, dtype=np.uint8), comp, range(1, n + 1))
        found = []
        for i in range(1, n + 1):
            centroid = _centroid_lps(np.asarray(centers[i - 1]) + offset, reference)
            entry = {"voxels": int(counts[i]), "volume_ml": round(float(counts[i]) * voxel_ml, 4),
                     "centroid_lps_mm": centroid}
            (found if entry["volume_ml"] >= min_tumor_ml else dropped).append((i, entry))
        found.sort(key=lambda t: (-t[1]["voxels"], t[1]["centroid_lps_mm"]))
        crop = labels[box]
        for rank, (i, entry) in enumerate(found, start=2):
            crop[comp == i] = rank
            nodes.append(RegionNode("tumor", rank, entry["voxels"], entry["volume_ml"], entry["centroid_lps_mm"]))
        dropped = [entry for _, entry in dropped]
        if dropped:
            warnings.warn(
                f"case {case_id}: dropped {len(dropped)} tumour component(s) under {min_tumor_ml} ml "
                f"(volumes {[d['volume_ml'] for d in dropped]} ml).",
                stacklevel=2,
            )
    return RegionGraph(case_id, nodes, liver, labels, dropped)
