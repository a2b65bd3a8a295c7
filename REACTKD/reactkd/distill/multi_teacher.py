"""Multi-teacher baselines: MTCM-KD (cross-modal, equal weights) and AWMTKD (adaptive per-case weights)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from reactkd.losses.kd import multi_teacher_kd_loss

from .base import Distiller
from .registry import DISTILLERS

__all__ = ["MultiTeacherDistiller", "MTCMKD", "AWMTKD"]


class MultiTeacherDistiller(Distiller):
    """Shared machinery: per-teacher KD on logits and per-teacher embedding alignment.

    ``teacher`` is a sequence of frozen teachers, typically the modality-specific stage-1 teachers
    (``Teacher(branches=["pet_ct"])``, ``Teacher(branches=["dose"])``, optionally the dual one); a single
    teacher is accepted and makes the method a single-teacher one. Each teacher gets its own linear
    projector from the student's embedding ``(B, W_s)`` to the teacher's ``(B, W_t)``; the embedding term
    is the cosine distance, averaged with the same per-case teacher weights as the KD term.

    Args:
        feat_weight: weight of the embedding-alignment term. Default 1.
        **kwargs: :class:`Distiller` options (``kd_weight`` default 1, ``temperature`` default 2).

    Raises:
        TypeError: if a model lacks ``head.fc`` to read its embedding width from.
    """

    def __init__(self, student, teacher, feat_weight: float = 1.0, **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(feat_weight=feat_weight)
        self.feat_weight = feat_weight
        widths = []
        for role, m in [("student", student)] + [(f"teacher[{i}]", t) for i, t in enumerate(self.teachers)]:
            fc = getattr(getattr(m, "head", None), "fc", None)
            if not isinstance(fc, nn.Linear):
                raise TypeError(f"`{role}` needs `head.fc` (nn.Linear) to read its embedding width.")
            widths.append(fc.in_features)
        self.projectors = nn.ModuleList(nn.Linear(widths[0], w) for w in widths[1:])

    def teacher_weights(self, teacher_logits: list[torch.Tensor], label: torch.Tensor) -> torch.Tensor | None:
        """``(B, M)`` per-case teacher weights (rows sum to 1); None means uniform."""
        return None

    def forward_train(self, batch):
        fs = self.student_features(batch)
        fts = [self.teacher_features(batch, i) for i in range(len(self.teachers))]
        t_logits = [f.logits for f in fts]
        weights = self.teacher_weights(t_logits, batch["label"])
        losses = self.base_losses(fs.logits, batch, None)
        if self.kd_weight:
            losses["loss_kd"] = self.kd_weight * multi_teacher_kd_loss(fs.logits, t_logits, weights, self.temperature)
        if self.feat_weight:
            dist = torch.stack(
                [1 - F.cosine_similarity(p(fs.embedding), f.embedding, dim=1) for p, f in zip(self.projectors, fts)],
                dim=1,
            )  # (B, M)
            w = weights if weights is not None else torch.full_like(dist, 1.0 / dist.shape[1])
            losses["loss_feat"] = self.feat_weight * (w * dist).sum(1).mean()
        return fs.logits, losses


@DISTILLERS.register(key="mtcmkd")
class MTCMKD(MultiTeacherDistiller):
    """Multi-teacher cross-modal KD: every modality-specific teacher counts equally.

    Loss: focal task + mean over teachers of logit KD + mean over teachers of cosine distance between
    the projected student embedding and each teacher's embedding (the cross-modal feature transfer).

    Approximated: the published method's exact fusion of teachers is not available to us; its core
    (several teachers trained on different modalities, distilled jointly into a single-modality student
    through logits and features) is implemented with uniform teacher weights.
    """


@DISTILLERS.register(key="awmtkd")
class AWMTKD(MultiTeacherDistiller):
    """Adaptive weighted multi-teacher KD: per case, teachers that are right about the label weigh more.

    .. math:: w_{b,m} = \\mathrm{softmax}_m\\big(-\\mathrm{CE}(z^{t_m}_b, y_b)\\big)

    the confidence-aware weighting of CA-MKD (Zhang, Chen, Wang, ICASSP 2022), applied to the KD and
    embedding terms. Weights are computed from the frozen teachers and carry no gradient.

    Approximated: the adaptive weighting is this label-confidence rule; a learned weighting network, if
    the original uses one, is not reproduced.
    """

    def teacher_weights(self, teacher_logits, label):
        ce = torch.stack([F.cross_entropy(t, label, reduction="none") for t in teacher_logits], dim=1)
        return torch.softmax(-ce, dim=1).detach()
