"""Region graphs: ROI nodes (liver + tumour components) and area-weighted masks at any resolution."""

from reactkd.graph.pooling import area_resize, masked_average_pool, masked_std_pool
from reactkd.graph.rois import MIN_TUMOR_ML, RegionGraph, RegionNode, extract_regions

__all__ = ["RegionNode", "RegionGraph", "extract_regions", "MIN_TUMOR_ML", "area_resize", "masked_average_pool",
           "masked_std_pool"]
