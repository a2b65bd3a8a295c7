"""Grade one case with a trained student: probabilities, region graph with node attention, and the
topology map (node attention painted onto each ROI) on the original CT's grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
import torch

from reactkd import GRADES
from reactkd.cohort.dataset import collate_cases, item_from_input
from reactkd.config.schema import Precision
from reactkd.graph.nodes import cosine_adjacency, region_nodes
from reactkd.inference.attention import attention_definition, attribute_nodes
from reactkd.io.case import Case
from reactkd.preprocess import PreprocessConfig, preprocess_case, region_graph
from reactkd.train.performance import resolve_policy

__all__ = ["predict_case", "prepare_case", "explain_case", "PreparedCase", "EDGE_DEFINITION"]

EDGE_DEFINITION = "cosine similarity of the nodes' features (fused map pooled over each ROI)"


@dataclass(frozen=True)
class PreparedCase:
    """A case preprocessed once for every student of one preprocessing config: its region ``graph``, the
    one-case ``batch`` (with the declared ``modality_mask``) and the user's ``drawn`` mask ``(Z, Y, X)``."""

    case: Case
    graph: object
    batch: dict
    drawn: np.ndarray


def prepare_case(metadata: dict, case: Case, device: str | torch.device = "cpu") -> PreparedCase:
    """Preprocess ``case`` as the checkpoint's ``metadata["preprocess"]`` says."""
    config = PreprocessConfig.from_dict(metadata["preprocess"])
    graph = region_graph(case, config)
    mi = preprocess_case(case, config, graph)
    batch = collate_cases([item_from_input(mi)])
    batch["modality_mask"] = torch.tensor([[True, bool(mi.pet_present.any())]])  # declared, never guessed
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    # Closing may add a rim the user did not segment; the map stays within the user's own masks.
    drawn = (sitk.GetArrayViewFromImage(case.liver) != 0) | (sitk.GetArrayViewFromImage(case.tumor) != 0)
    return PreparedCase(case, graph, batch, drawn)


def explain_case(student, prepared: PreparedCase, precision: Precision | str = Precision.FP32
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """``(probabilities (3,), node attention (R,), attention map (Z, Y, X) float32 on the CT grid, edges)``.

    The student runs once, under the batch device's :class:`~reactkd.train.performance.PerformancePolicy`
    (channels-last-3d for fp32 on a CPU; ``auto``/``bf16`` for bf16 autocast where the CPU has it); the
    attention and the edges are read from that one forward pass."""
    graph = prepared.graph
    device = prepared.batch["ct"].device
    policy = resolve_policy(device, precision)
    batch = policy.to_device(prepared.batch)
    with policy.autocast():
        probs, attention, fused = attribute_nodes(policy.prepare_model(student).eval(), batch)
    edges = _graph_edges(fused, batch)
    labels = np.zeros(graph.liver.shape, np.float32)
    labels[graph.liver] = attention[0]
    for k, node in enumerate(graph.nodes[1:], start=1):
        labels[graph.labels == node.label] = attention[k]
    labels[~prepared.drawn] = 0.0
    return probs, attention, labels, edges


def predict_case(student, metadata: dict, case: Case, device: str | torch.device = "cpu",
                 precision: Precision | str = Precision.FP32) -> tuple[dict, sitk.Image]:
    """Returns ``(result, attention_image)``.

    The student runs under the device's :class:`~reactkd.train.performance.PerformancePolicy` (channels-last-3d
    for fp32 on a CPU; ``precision`` fp32 by default, ``auto``/``bf16`` for bf16 autocast where the CPU has it).

    ``result``: ``probabilities`` (grade → probability), ``grade``, ``modalities`` used, ``nodes`` (each
    ``kind``, ``voxels``, ``volume_ml``, ``centroid_lps_mm``, ``attention``), ``edges`` (each node pair
    ``i < j`` with the cosine ``similarity`` of their pooled features, as the region-graph loss sees them).
    ``attention_image``: float32 on ``case.ct``'s grid; each ROI holds its node's attention (a tumour
    overrides the liver where they overlap), 0 outside the ROIs and outside the given masks — so it only
    lights up where the anatomy is.
    """
    prepared = prepare_case(metadata, case, device)
    probs, attention, labels, edges = explain_case(student, prepared, precision)
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(case.ct)
    nodes = [{**n.to_dict(), "attention": round(float(a), 6)} for n, a in zip(prepared.graph.nodes, attention)]
    result = {
        "case_id": case.case_id,
        "probabilities": {str(g): round(float(p), 6) for g, p in zip(GRADES, probs)},
        "grade": int(GRADES[int(np.argmax(probs))]),
        "modalities": {"ct": True, "pet": sorted(case.pets) if student.spec.pet_channels else []},
        "nodes": nodes,
        "edges": edges,
        "dropped": prepared.graph.dropped,
        "attention_definition": attention_definition(student),
        "edge_definition": EDGE_DEFINITION,
    }
    return result, image


def _graph_edges(fused: torch.Tensor, batch: dict) -> list[dict]:
    """Region-graph edges ``[{"i", "j", "similarity"}]`` (``i < j``): cosine similarity of the nodes'
    features pooled from the CBAM-gated fused map ``(1, C, d, h, w)`` (the map the node attention is read from)."""
    fused = fused.float()
    adjacency = cosine_adjacency(region_nodes(fused, batch["roi_masks"].to(fused.dtype)))[0].cpu().numpy()
    n = adjacency.shape[0]
    return [{"i": i, "j": j, "similarity": round(float(adjacency[i, j]), 6)} for i in range(n) for j in range(i + 1, n)]
