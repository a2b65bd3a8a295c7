"""Region graphs: ROI nodes (liver + tumour components), area-weighted masks at any resolution, node
features pooled from a feature map and their cosine adjacency."""

from reactkd.graph.nodes import cosine_adjacency, region_nodes, uniform_patch_masks
from reactkd.graph.pooling import area_resize, masked_average_pool, masked_std_pool
from reactkd.graph.rois import MIN_TUMOR_ML, RegionGraph, RegionNode, extract_regions

__all__ = ["RegionNode", "RegionGraph", "extract_regions", "MIN_TUMOR_ML", "area_resize", "masked_average_pool",
           "masked_std_pool", "region_nodes", "cosine_adjacency", "uniform_patch_masks"]
