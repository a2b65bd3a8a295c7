"""Losses (model-agnostic, on tensors): focal, logit KD, region-graph distillation, baseline feature losses
(MS-SARD and MS-CA of ReCo-KD for the classification baselines and the segmentation distillers)."""

from .attention import attention_map, attention_transfer_loss
from .dose_consistency import ConsistencyTarget, DoseConsistencyLoss, DoseConsistencySpec, dose_consistency_loss
from .focal import DEFAULT_GRADE_ALPHA, FocalLoss, softmax_focal_loss
from .gromov import graph_cost, gromov_wasserstein_discrepancy, gw_graph_loss
from .kd import KDLoss, kd_loss, multi_teacher_kd_loss
from .multiscale import resize_to, scale_sum
from .region_graph import edge_alignment_loss, node_alignment_loss
from .region_weighted import in_teacher_rms_units, ms_sard_loss, region_weight_map, region_weighted_feature_loss
from .relational import affinity_alignment_loss, cross_image_relation_loss, ms_ca_loss, sampled_affinity_alignment_loss

__all__ = [
    "ConsistencyTarget",
    "DEFAULT_GRADE_ALPHA",
    "DoseConsistencyLoss",
    "DoseConsistencySpec",
    "FocalLoss",
    "KDLoss",
    "affinity_alignment_loss",
    "attention_map",
    "attention_transfer_loss",
    "cross_image_relation_loss",
    "dose_consistency_loss",
    "edge_alignment_loss",
    "graph_cost",
    "gromov_wasserstein_discrepancy",
    "gw_graph_loss",
    "in_teacher_rms_units",
    "kd_loss",
    "ms_ca_loss",
    "ms_sard_loss",
    "multi_teacher_kd_loss",
    "node_alignment_loss",
    "region_weight_map",
    "region_weighted_feature_loss",
    "resize_to",
    "sampled_affinity_alignment_loss",
    "scale_sum",
    "softmax_focal_loss",
]
