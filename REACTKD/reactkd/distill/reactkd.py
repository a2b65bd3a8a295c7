"""REACT-KD: logit KD + region-graph distillation (node, edge and Gromov–Wasserstein terms)."""

from __future__ import annotations

import torch.nn as nn

from reactkd.graph.nodes import region_nodes
from reactkd.losses.gromov import gw_graph_loss
from reactkd.losses.region_graph import edge_alignment_loss, node_alignment_loss

from .base import Distiller
from .registry import DISTILLERS

__all__ = ["REACTKD"]


def _level(model: nn.Module, index: int, role: str) -> int:
    widths = getattr(model, "out_channels", None)
    if widths is None:
        raise TypeError(f"the {role} must expose `out_channels` (widths of its feature levels).")
    if not -len(widths) <= index < len(widths):
        raise ValueError(f"`{role}_level` must index one of {len(widths)} levels, got {index!r}.")
    return index % len(widths)


@DISTILLERS.register(key="reactkd")
class REACTKD(Distiller):
    """Region-aware cross-modal topological KD: focal task loss + logit KD + region-graph distillation.

    Region graphs: node ``r`` of a case is the masked average of one feature level over ROI ``r``
    (``batch["roi_masks"]`` area-weighted to that level; node 0 liver, 1..k tumours; ``roi_valid``
    marks real nodes). With student nodes ``h^s`` projected by a learnable linear map ``W`` to the
    teacher's width:

    .. math:: \\mathcal{L} = \\lambda_{task}\\mathcal{L}_{focal} + \\lambda_{kd}\\mathcal{L}_{KD}
        + \\lambda_{node}\\mathcal{L}_{node}(W h^s, h^t) + \\lambda_{edge}\\mathcal{L}_{edge}(h^s, h^t)
        + \\lambda_{gw} GW(C(h^s), C(h^t))

    (:func:`~reactkd.losses.node_alignment_loss`, :func:`~reactkd.losses.edge_alignment_loss`,
    :func:`~reactkd.losses.gw_graph_loss`). Node and edge terms use the ROI correspondence; the GW term
    compares the graphs' internal geometry without it.

    Args:
        student: :class:`~reactkd.models.Student` (or any model exposing ``forward_features`` and
            ``out_channels``), normally sharing the teacher's CBAM3D.
        teacher: frozen :class:`~reactkd.models.Teacher` (either branch alone works).
        node_weight: λ_node. Default 1.
        edge_weight: λ_edge. Default 1.
        gw_weight: λ_gw. Default 1. The three RGD weights are equal by default: each term is bounded and
            O(1) after normalisation (cosine distance in [0, 2], squared cosine differences in [0, 4],
            GW of max-normalised costs in [0, 1]), so no term dominates a priori; tune from the config.
        student_level: student level pooled into nodes. Default 3 (stride 8, deepest SegResNet stage).
        teacher_level: teacher level pooled into nodes. Default 2 (stride 8, 12³ at 96³), the same
            resolution as the student's, fine enough that area-weighted masks keep small tumours.
        **kwargs: :class:`Distiller` options (``kd_weight`` default 1, ``temperature`` default 2, ...).
    """

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        node_weight: float = 1.0,
        edge_weight: float = 1.0,
        gw_weight: float = 1.0,
        student_level: int = 3,
        teacher_level: int = 2,
        **kwargs,
    ) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(node_weight=node_weight, edge_weight=edge_weight, gw_weight=gw_weight)
        self.node_weight, self.edge_weight, self.gw_weight = node_weight, edge_weight, gw_weight
        self.student_level = _level(student, student_level, "student")
        self.teacher_level = _level(self.teacher, teacher_level, "teacher")
        self.node_projector = nn.Linear(
            student.out_channels[self.student_level], self.teacher.out_channels[self.teacher_level]
        )

    def forward_train(self, batch):
        fs = self.student_features(batch)
        ft = self.teacher_features(batch)
        losses = self.base_losses(fs.logits, batch, ft.logits)
        if not (self.node_weight or self.edge_weight or self.gw_weight):
            return fs.logits, losses
        valid = batch["roi_valid"].bool()
        ns = region_nodes(fs.levels[self.student_level], batch["roi_masks"])
        nt = region_nodes(ft.levels[self.teacher_level], batch["roi_masks"]).detach()
        if self.node_weight:
            losses["loss_node"] = self.node_weight * node_alignment_loss(self.node_projector(ns), nt, valid)
        if self.edge_weight:
            losses["loss_edge"] = self.edge_weight * edge_alignment_loss(ns, nt, valid)
        if self.gw_weight:
            losses["loss_gw"] = self.gw_weight * gw_graph_loss(ns, nt, valid, valid)
        return fs.logits, losses
