"""The REACT-KD student: a light SegResNet encoder, the CBAM3D shared with the teacher, a grading head."""

from __future__ import annotations

from reactkd.cohort.inputs import StudentInputs
from reactkd.models.backbones import SegResNetBackbone
from reactkd.models.cbam import CBAM3D
from reactkd.models.grading_net import GradingNet
from reactkd.models.heads import build_head, source_channels
from reactkd.models.spec import CBAMSpec, StudentSpec, spec_or_keys, student_spec

__all__ = ["Student"]

DEFAULT_FUSION_CHANNELS = 128


class Student(GradingNet):
    """:class:`StudentInputs` (modality dropout) → :class:`SegResNetBackbone` → the spec's head.

    **CBAM sharing.** Pass the teacher's ``cbam``: the very same module then gates the teacher's fused
    map and the student's projected deepest map, one set of attention weights, not a copy.
    ``spec.cbam_trainable`` None resolves to False for a shared instance, because training it would
    move the teacher's fused features and logits — the distillation targets — while the student learns.
    Without a shared instance the student owns a trainable CBAM3D built from ``spec.cbam``. The
    student's ``state_dict`` holds the CBAM weights either way, so its checkpoint is self-contained.

    Raises:
        ValueError: if the shared ``cbam`` and ``spec.fusion_channels`` disagree.

    Example:
        >>> s = Student(StudentSpec(fusion_channels=16))
        >>> s(torch.randn(2, 1, 16, 16, 16)).shape
        torch.Size([2, 3])
    """

    def __init__(self, spec: StudentSpec | dict | None = None, cbam: CBAM3D | None = None, **keys) -> None:
        """From a spec, a mapping, or its keys (``Student(init_filters=8, pet_channels=2)``)."""
        spec = student_spec(spec_or_keys(spec, keys))
        width = spec.fusion_channels or (cbam.channels if cbam is not None else DEFAULT_FUSION_CHANNELS)
        inputs = StudentInputs(spec.pet_channels, spec.roi_channels, spec.modality_dropout)
        in_channels = inputs.channels
        backbone = SegResNetBackbone(in_channels, spec.pet_channels, spec.indicators, spec.init_filters,
                                     spec.blocks_down, width, cbam if cbam is not None else spec.cbam or CBAMSpec())
        channels = source_channels(in_channels + 2 * spec.indicators, backbone.out_channels, width)
        super().__init__(inputs, backbone, build_head(spec.head, channels, spec.num_classes))
        self.spec = spec
        self.cbam_shared = cbam is not None
        self.cbam_trainable = (not self.cbam_shared) if spec.cbam_trainable is None else bool(spec.cbam_trainable)
        self.cbam.requires_grad_(self.cbam_trainable)
