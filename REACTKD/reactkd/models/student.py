"""The REACT-KD student: a light SegResNet encoder, the CBAM3D shared with the teacher, a grading head."""

from __future__ import annotations

import torch.nn as nn

from reactkd.models.backbones import SegResNetBackbone
from reactkd.models.cbam import CBAM3D
from reactkd.models.grading_net import GradingNet
from reactkd.models.heads import build_head, source_channels
from reactkd.models.inputs import StudentInputs
from reactkd.models.spec import StudentSpec, spec_or_keys, student_spec

__all__ = ["Student"]


class Student(GradingNet):
    """:class:`StudentInputs` (modality dropout) → :class:`SegResNetBackbone` → the spec's head.

    **CBAM sharing.** Pass the teacher's ``cbam``: the very same module then gates the teacher's fused
    map and the student's projected deepest map, one set of attention weights, not a copy; it trains with
    the student only if ``spec.train_shared_cbam``. Without a shared module the student owns the attention
    ``spec.cbam`` describes (a :class:`~reactkd.models.cbam.CBAM3D`, or none) and trains it. The
    student's ``state_dict`` holds the CBAM weights either way, so its checkpoint is self-contained.

    Raises:
        ValueError: if the shared ``cbam`` does not have the shape ``spec`` describes.

    Example:
        >>> s = Student(StudentSpec(fusion_channels=16))
        >>> s(torch.randn(2, 1, 16, 16, 16)).shape
        torch.Size([2, 3])
    """

    def __init__(self, spec: StudentSpec | dict | None = None, cbam: nn.Module | None = None, **keys) -> None:
        """From a spec, a mapping, or its keys (``Student(init_filters=8, pet_channels=2)``)."""
        spec = student_spec(spec_or_keys(spec, keys))
        if cbam is not None:
            _check_shared(cbam, spec)
        inputs = StudentInputs(spec.pet_channels, roi_channels=spec.roi_channels,
                               modality_dropout=spec.modality_dropout)
        attention = cbam if cbam is not None else spec.cbam
        backbone = SegResNetBackbone(inputs.channels, spec.pet_channels, indicators=spec.indicators,
                                     init_filters=spec.init_filters, blocks_down=spec.blocks_down,
                                     fusion_channels=spec.fusion_channels, cbam=attention)
        channels = source_channels(inputs.channels + 2 * spec.indicators, backbone.out_channels, spec.fusion_channels)
        super().__init__(inputs, backbone, build_head(spec.head, channels, spec.num_classes))
        self.spec = spec
        self.cbam_shared = cbam is not None
        self.cbam.requires_grad_(spec.train_shared_cbam or not self.cbam_shared)


def _check_shared(cbam: nn.Module, spec: StudentSpec) -> None:
    """A shared attention module must be what ``spec`` describes: a CBAM3D of ``fusion_channels``, or none."""
    if spec.cbam is None:
        if isinstance(cbam, CBAM3D):
            raise ValueError("the shared module is a CBAM3D but the student's spec has `cbam: null`.")
        return
    if not isinstance(cbam, CBAM3D) or cbam.channels != spec.fusion_channels:
        got = f"a CBAM3D of {cbam.channels} channels" if isinstance(cbam, CBAM3D) else type(cbam).__name__
        raise ValueError(f"the shared attention is {got} but the student's `fusion_channels` is "
                         f"{spec.fusion_channels}; build the student with the teacher's fusion_channels and cbam.")
