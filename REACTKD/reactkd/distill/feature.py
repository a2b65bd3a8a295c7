"""Feature-based baselines: attention transfer, cross-image relations (CIRKD), uniform-patch graphs (MSKD)."""

from __future__ import annotations

from typing import Sequence

import torch.nn as nn

from reactkd.graph.nodes import region_nodes, uniform_patch_masks
from reactkd.losses.attention import attention_transfer_loss
from reactkd.losses.region_graph import edge_alignment_loss, node_alignment_loss
from reactkd.losses.relational import cross_image_relation_loss

from .base import Distiller, resolve_level_pairs
from .registry import DISTILLERS

__all__ = ["AT", "CIRKD", "MSKD"]


@DISTILLERS.register(key="at")
class AT(Distiller):
    """Attention transfer at every stride-matched level pair (Zagoruyko & Komodakis 2017).

    ``loss_at = at_weight · Σ_pairs mean((Q_s − Q_t)²)`` with ``Q = normalise(mean_c |F|^p)``; the
    student's map is resized to the teacher's when resolutions differ. No logit KD by default (the
    original method is CE + AT).

    Args:
        at_weight: default 1000, the β of the paper / mdistiller (normalised maps make the raw term tiny).
        p: attention exponent. Default 2.
        level_pairs: ``(student_level, teacher_level)`` pairs; None matches strides ((1,0),(2,1),(3,2)).
        **kwargs: :class:`Distiller` options (``kd_weight`` default 0).
    """

    default_kd_weight = 0.0

    def __init__(self, student, teacher, at_weight: float = 1000.0, p: float = 2.0,
                 level_pairs: Sequence[Sequence[int]] | None = None, **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(at_weight=at_weight)
        self.at_weight, self.p = at_weight, p
        self.level_pairs = resolve_level_pairs(student, self.teacher, level_pairs)

    def forward_train(self, batch):
        fs, ft = self.student_features(batch), self.teacher_features(batch)
        losses = self.base_losses(fs.logits, batch, ft.logits)
        if self.at_weight:
            at = sum(attention_transfer_loss(fs.levels[s], ft.levels[t], self.p) for s, t in self.level_pairs)
            losses["loss_at"] = self.at_weight * at
        return fs.logits, losses


@DISTILLERS.register(key="cirkd")
class CIRKD(Distiller):
    """Cross-image relational KD (Yang et al. 2022), in-batch pixel-to-pixel relations, plus logit KD.

    The student's map at ``student_level`` is projected by a 1×1×1 convolution to the teacher's width;
    both are pooled to ``grid``³ positions and the row-softmaxed cross-image similarity matrices are
    matched by KL (:func:`~reactkd.losses.cross_image_relation_loss`).

    Approximated: CIRKD's memory bank (pixel-to-pixel and pixel-to-region relations with features of
    past batches) is omitted, relations are in-batch only, and a classification encoder's map replaces
    the segmentation head's features. With batch size 1 it reduces to intra-image relations.

    Args:
        relation_weight: default 1.
        relation_temperature: τ of the relation softmax. Default 0.1.
        grid: pooled side. Default 4.
        student_level / teacher_level: default 3 / 2 (both stride 8).
        **kwargs: :class:`Distiller` options (``kd_weight`` default 1, as CIRKD keeps logit KD).
    """

    def __init__(self, student, teacher, relation_weight: float = 1.0, relation_temperature: float = 0.1,
                 grid: int = 4, student_level: int = 3, teacher_level: int = 2, **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(relation_weight=relation_weight)
        (self.student_level, self.teacher_level), = resolve_level_pairs(
            student, self.teacher, [(student_level, teacher_level)]
        )
        self.relation_weight, self.relation_temperature, self.grid = relation_weight, relation_temperature, grid
        self.projector = nn.Conv3d(
            student.out_channels[self.student_level], self.teacher.out_channels[self.teacher_level], 1
        )

    def forward_train(self, batch):
        fs, ft = self.student_features(batch), self.teacher_features(batch)
        losses = self.base_losses(fs.logits, batch, ft.logits)
        if self.relation_weight:
            s = self.projector(fs.levels[self.student_level])
            rel = cross_image_relation_loss(s, ft.levels[self.teacher_level], self.relation_temperature, self.grid)
            losses["loss_cirkd"] = self.relation_weight * rel
        return fs.logits, losses


@DISTILLERS.register(key="mskd")
class MSKD(Distiller):
    """Region-graph distillation on a uniform patch grid instead of anatomical ROIs (MSKD core idea).

    Nodes are the masked averages of the features over a ``grid`` of equal patches (same patches for
    student and teacher), edges their cosine similarities; node alignment (student nodes linearly
    projected to the teacher's width, cosine distance) and edge alignment (squared adjacency
    differences) are the losses. This is the anatomy-agnostic counterpart that REACT-KD's ROI graphs are
    compared with.

    Approximated: only the uniform-patch graph with cosine edges is reproduced (no further components
    of the original recipe are available to us).

    Args:
        node_weight / edge_weight: default 1 / 1.
        grid: patches per axis. Default ``(2, 2, 2)`` (8 nodes, comparable to liver + a few tumours).
        student_level / teacher_level: default 3 / 2 (both stride 8).
        **kwargs: :class:`Distiller` options (``kd_weight`` default 0).
    """

    default_kd_weight = 0.0

    def __init__(self, student, teacher, node_weight: float = 1.0, edge_weight: float = 1.0,
                 grid: Sequence[int] = (2, 2, 2), student_level: int = 3, teacher_level: int = 2, **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(node_weight=node_weight, edge_weight=edge_weight)
        (self.student_level, self.teacher_level), = resolve_level_pairs(
            student, self.teacher, [(student_level, teacher_level)]
        )
        self.node_weight, self.edge_weight, self.grid = node_weight, edge_weight, tuple(grid)
        self.node_projector = nn.Linear(
            student.out_channels[self.student_level], self.teacher.out_channels[self.teacher_level]
        )

    def forward_train(self, batch):
        fs, ft = self.student_features(batch), self.teacher_features(batch)
        losses = self.base_losses(fs.logits, batch, ft.logits)
        s_map, t_map = fs.levels[self.student_level], ft.levels[self.teacher_level]
        masks = uniform_patch_masks(s_map.shape[0], batch["ct"].shape[-3:], self.grid, device=s_map.device)
        ns, nt = region_nodes(s_map, masks), region_nodes(t_map, masks)
        valid = masks.flatten(2).amax(-1) > 0
        if self.node_weight:
            losses["loss_node"] = self.node_weight * node_alignment_loss(self.node_projector(ns), nt, valid)
        if self.edge_weight:
            losses["loss_edge"] = self.edge_weight * edge_alignment_loss(ns, nt, valid)
        return fs.logits, losses
