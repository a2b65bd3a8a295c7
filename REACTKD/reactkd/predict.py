"""Grade one case with a trained student: probabilities, region graph with node attention, and the
topology map (node attention painted onto each ROI) on the original CT's grid.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
import torch

from reactkd import GRADES
from reactkd.cohort.dataset import collate_cases, item_from_input
from reactkd.io.case import Case
from reactkd.losses.region_graph import cosine_adjacency, region_nodes
from reactkd.preprocess import PreprocessConfig, preprocess_case, region_graph
from reactkd.train.inference import attention_definition, node_attention

__all__ = ["predict_case"]


def predict_case(student, metadata: dict, case: Case, device: str | torch.device = "cpu") -> tuple[dict, sitk.Image]:
    """Returns ``(result, attention_image)``.

    ``result``: ``probabilities`` (grade → probability), ``grade``, ``modalities`` used, ``nodes`` (each
    ``kind``, ``voxels``, ``volume_ml``, ``centroid_lps_mm``, ``attention``), ``edges`` (each node pair
    ``i < j`` with the cosine ``similarity`` of their pooled features, as the region-graph loss sees them). ``attention_image``: float32 on
    ``case.ct``'s grid; each ROI holds its node's attention (a tumour overrides the liver where they
    overlap), 0 outside the ROIs and outside the given masks — so it only lights up where the anatomy is.
    """
    config = PreprocessConfig.from_dict(metadata["preprocess"])
    graph = region_graph(case, config)
    mi = preprocess_case(case, config, graph)
    batch = collate_cases([item_from_input(mi)])
    batch["modality_mask"] = torch.tensor([[True, bool(mi.pet_present.any())]])  # declared, never guessed
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    probs, attention = node_attention(student.eval(), batch)
    edges = _graph_edges(student, batch)
    labels = np.zeros(graph.liver.shape, np.float32)
    labels[graph.liver] = attention[0]
    for k, node in enumerate(graph.nodes[1:], start=1):
        labels[graph.labels == node.label] = attention[k]
    # Closing may add a rim the user did not segment; the map stays within the user's own masks.
    drawn = (sitk.GetArrayViewFromImage(case.liver) != 0) | (sitk.GetArrayViewFromImage(case.tumor) != 0)
    labels[~drawn] = 0.0
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(case.ct)
    nodes = [{**n.to_dict(), "attention": round(float(a), 6)} for n, a in zip(graph.nodes, attention)]
    result = {
        "case_id": case.case_id,
        "probabilities": {str(g): round(float(p), 6) for g, p in zip(GRADES, probs)},
        "grade": int(GRADES[int(np.argmax(probs))]),
        "modalities": {"ct": True, "pet": sorted(case.pets) if student.spec.pet_channels else []},
        "nodes": nodes,
        "edges": edges,
        "dropped": graph.dropped,
        "attention_definition": attention_definition(student),
        "edge_definition": "cosine similarity of the nodes' features (fused map pooled over each ROI)",
    }
    return result, image


def _graph_edges(student, batch: dict) -> list[dict]:
    """Region-graph edges ``[{"i", "j", "similarity"}]`` (``i < j``): cosine similarity of the nodes'
    features pooled from the CBAM-gated fused map (the map the node attention is read from)."""
    with torch.no_grad():
        fused = student.forward_features(*student.inputs(batch)).fused
        adjacency = cosine_adjacency(region_nodes(fused, batch["roi_masks"].to(fused.dtype)))[0].cpu().numpy()
    n = adjacency.shape[0]
    return [{"i": i, "j": j, "similarity": round(float(adjacency[i, j]), 6)} for i in range(n) for j in range(i + 1, n)]
