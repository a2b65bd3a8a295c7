"""From a :class:`~reactkd.io.Case` to a :class:`ModelInput` on the model grid (paper §III-B).

Steps: refine masks on the CT grid (liver: largest component + closing; tumour: closing) → region
graph nodes measured on the CT grid → model grid around the liver → CT clipped to the HU window,
resampled (linear) and z-scored → PETs resampled onto the grid in world space, percentile-clipped,
min–max scaled, z-scored → masks (nearest neighbour) and per-node area fractions (linear, so that no
small tumour vanishes between grid points). The networks read the normalised volumes and the ROI
fractions (as input channels and to pool over); the paper's intensity-masked map is the ROI channels.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from reactkd.graph.rois import RegionGraph, extract_regions
from reactkd.io.case import PET_TRACERS, Case
from reactkd.io.geometry import world_corners
from reactkd.preprocess.config import PreprocessConfig
from reactkd.preprocess.grid import ModelGrid, array_to_image
from reactkd.preprocess.intensity import normalize_pet, zscore
from reactkd.preprocess.masks import bounding_box, refine_liver, refine_tumor
from reactkd.preprocess.model_input import ModelInput

__all__ = ["region_graph", "preprocess_case"]


def region_graph(case: Case, config: PreprocessConfig = PreprocessConfig()) -> RegionGraph:
    """Refine the case's masks and build its region-graph nodes on the CT's own grid."""
    liver = refine_liver(sitk.GetArrayViewFromImage(case.liver) != 0, config.closing_iterations)
    tumor = refine_tumor(sitk.GetArrayViewFromImage(case.tumor) != 0, config.closing_iterations)
    return extract_regions(liver, tumor, case.ct, case.case_id, config.min_tumor_ml, config.connectivity)


def _mask_on_grid(mask: np.ndarray, ct: sitk.Image, grid: ModelGrid, interpolator: int) -> np.ndarray:
    """A CT-grid mask on the model grid: nearest neighbour (binary) or linear (partial-volume fraction).
    Only the mask's bounding box is resampled, which keeps 512×512×200 inputs cheap."""
    box = bounding_box(mask, pad=1)
    if box is None:
        return np.zeros(grid.shape, dtype=np.float32)
    crop = array_to_image(mask[box].astype(np.float32), ct, tuple(s.start for s in box))
    return np.clip(grid.sample(crop, interpolator, 0.0), 0.0, 1.0)


def _crop_ct(ct: sitk.Image, grid: ModelGrid) -> sitk.Image:
    """The CT restricted to the grid's world box (plus one voxel), so full-resolution work stays small."""

    corners = world_corners(grid.reference())
    idx = np.array([ct.TransformPhysicalPointToContinuousIndex(c.tolist()) for c in corners])
    lo = np.clip(np.floor(idx.min(0)) - 1, 0, None).astype(int)
    hi = np.minimum(np.ceil(idx.max(0)) + 2, np.asarray(ct.GetSize())).astype(int)
    if np.any(hi <= lo):
        return ct
    return sitk.RegionOfInterest(ct, (hi - lo).tolist(), lo.tolist())


def preprocess_case(case: Case, config: PreprocessConfig = PreprocessConfig(),
                    graph: RegionGraph | None = None) -> ModelInput:
    """Preprocess one case for the models.

    ``graph`` may pass the case's :func:`region_graph` (same config) when the caller already built it.

    Returns:
        A :class:`ModelInput`; arrays are ``(C, D, H, W)`` float32 on ``config.grid_size``³.

    Raises:
        ValueError: if the liver mask is empty after refinement (names the case).
    """
    graph = region_graph(case, config) if graph is None else graph
    grid = ModelGrid.around_mask(graph.liver, case.ct, config.grid_size, config.margin_mm)
    ct_crop = sitk.Cast(_crop_ct(case.ct, grid), sitk.sitkFloat32)
    ct_hu = grid.sample(ct_crop, sitk.sitkLinear, -1000.0)
    lo, hi = config.hu_window
    ct_norm = zscore(grid.sample(sitk.Clamp(ct_crop, sitk.sitkFloat32, lo, hi), sitk.sitkLinear, lo))

    pet = np.zeros((len(PET_TRACERS),) + grid.shape, dtype=np.float32)
    present = np.zeros(len(PET_TRACERS), dtype=bool)
    for i, tracer in enumerate(PET_TRACERS):
        if tracer in case.pets:
            pet[i] = normalize_pet(grid.sample(sitk.Cast(case.pets[tracer], sitk.sitkFloat32)), config.pet_percentiles)
            present[i] = True

    tumor_any = graph.labels > 0
    rois = np.stack([_mask_on_grid(m, case.ct, grid, sitk.sitkLinear) for m in graph.roi_masks()])
    organ = _mask_on_grid(graph.liver | tumor_any, case.ct, grid, sitk.sitkNearestNeighbor)
    return ModelInput(
        case_id=case.case_id,
        patient_id=case.patient_id,
        grade=case.grade,
        ct=ct_norm[None],
        ct_hu=ct_hu[None],
        pet=pet,
        pet_present=present,
        roi_masks=rois.astype(np.float32),
        organ_mask=organ.astype(np.uint8),
        nodes=[n.to_dict() for n in graph.nodes],
        dropped=graph.dropped,
        grid=grid,
        config=config,
    )

