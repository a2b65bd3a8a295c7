"""ReCo-KD baselines adapted to classification encoders: MS-SARD and MS-CA.

The math is :func:`~reactkd.losses.ms_sard_loss` and :func:`~reactkd.losses.ms_ca_loss`, shared with the
segmentation distillers of :mod:`reactkd.segment.distill`; these classes only choose the maps and masks.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn as nn

from reactkd.losses.region_weighted import ms_sard_loss, region_weight_map
from reactkd.losses.relational import ms_ca_loss

from .base import Distiller, resolve_level_pairs
from .registry import DISTILLERS

__all__ = ["MSSARD", "MSCA"]


@DISTILLERS.register(key="ms_sard")
class MSSARD(Distiller):
    """Multi-scale structure-aware region distillation (ReCo-KD's MS-SARD core).

    At every stride-matched level pair the student map is projected by a 1×1×1 convolution to the
    teacher's width (resized trilinearly if resolutions differ) and the squared error is weighted by a
    ROI-aware, scale-normalised map (:func:`~reactkd.losses.region_weight_map`): each real ROI of
    ``batch["roi_masks"]`` carries the same total weight whatever its volume, the background a small
    share. Scales are averaged.

    Approximated: ReCo-KD builds class-aware masks from segmentation labels of a segmentation network;
    here the ROI masks (liver, tumours) of the data layer play that role and the distilled maps are
    encoder levels of the classifiers.

    Args:
        sard_weight: default 1.
        background_weight: background share relative to one ROI. Default 0.1.
        level_pairs: None matches strides.
        **kwargs: :class:`Distiller` options (``kd_weight`` default 0).
    """

    default_kd_weight = 0.0

    def __init__(self, student, teacher, sard_weight: float = 1.0, background_weight: float = 0.1,
                 level_pairs: Sequence[Sequence[int]] | None = None, **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(sard_weight=sard_weight, background_weight=background_weight)
        self.sard_weight, self.background_weight = sard_weight, background_weight
        self.level_pairs = resolve_level_pairs(student, self.teacher, level_pairs)
        self.projectors = nn.ModuleList(
            nn.Conv3d(student.out_channels[s], self.teacher.out_channels[t], 1) for s, t in self.level_pairs
        )

    def forward_train(self, batch):
        fs, ft = self.student_features(batch), self.teacher_features(batch)
        losses = self.base_losses(fs.logits, batch, ft.logits)
        if self.sard_weight:
            targets = [ft.levels[t] for _, t in self.level_pairs]
            preds = [proj(fs.levels[s]) for proj, (s, _) in zip(self.projectors, self.level_pairs)]
            maps = [region_weight_map(batch["roi_masks"], batch["roi_valid"].bool(), t.shape[-3:],
                                      self.background_weight)
                    for t in targets]
            losses["loss_sard"] = self.sard_weight * ms_sard_loss(preds, targets, maps)
        return fs.logits, losses


@DISTILLERS.register(key="ms_ca")
class MSCA(Distiller):
    """Multi-scale context alignment (ReCo-KD's MS-CA core): match intra-image affinity across levels.

    At every level pair, the cosine-similarity affinity between all (pooled) positions of the student's
    map is matched to the teacher's by mean squared error; levels are averaged. No projector is needed
    because each affinity lives in its own feature space.

    Approximated: ReCo-KD aligns context on segmentation decoders; here encoder levels of the
    classifiers are used and positions are pooled to at most ``grid`` per side.

    Args:
        ca_weight: default 1.
        grid: largest pooled side. Default 6.
        level_pairs: None matches strides.
        **kwargs: :class:`Distiller` options (``kd_weight`` default 0).
    """

    default_kd_weight = 0.0

    def __init__(self, student, teacher, ca_weight: float = 1.0, grid: int = 6,
                 level_pairs: Sequence[Sequence[int]] | None = None, **kwargs) -> None:
        super().__init__(student, teacher, **kwargs)
        self.check_weights(ca_weight=ca_weight)
        self.ca_weight, self.grid = ca_weight, grid
        self.level_pairs = resolve_level_pairs(student, self.teacher, level_pairs)

    def forward_train(self, batch):
        fs, ft = self.student_features(batch), self.teacher_features(batch)
        losses = self.base_losses(fs.logits, batch, ft.logits)
        if self.ca_weight:
            students = [fs.levels[s] for s, _ in self.level_pairs]
            teachers = [ft.levels[t] for _, t in self.level_pairs]
            losses["loss_ca"] = self.ca_weight * ms_ca_loss(students, teachers, grid=self.grid)
        return fs.logits, losses
