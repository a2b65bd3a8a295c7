"""The REACT-KD teacher: dual-branch PET/CT + dose-CT Swin encoders fused through the shared CBAM3D."""

from __future__ import annotations

from reactkd.models.backbones import SwinFusionBackbone
from reactkd.models.grading_net import GradingNet
from reactkd.models.heads import build_head, source_channels
from reactkd.models.inputs import TeacherInputs
from reactkd.models.spec import TeacherSpec, spec_or_keys, teacher_spec

__all__ = ["Teacher"]


class Teacher(GradingNet):
    """:class:`TeacherInputs` → :class:`SwinFusionBackbone` → the spec's head.

    Either branch alone is a valid configuration (the "w/o dose teacher" / "w/o PET" ablations). The
    teacher is never deployed, so unlike the PET-taking student it consumes no modality mask.

    Example:
        >>> t = Teacher(TeacherSpec(feature_size=12, fusion_channels=16))
        >>> t(torch.randn(1, 4, 32, 32, 32)).shape
        torch.Size([1, 3])
    """

    def __init__(self, spec: TeacherSpec | dict | None = None, **keys) -> None:
        """From a spec, a mapping, or its keys (``Teacher(feature_size=12, branches=["pet_ct"])``)."""
        spec = teacher_spec(spec_or_keys(spec, keys))
        inputs = TeacherInputs(spec.branches, spec.pet_channels, roi_channels=spec.roi_channels)
        backbone = SwinFusionBackbone(
            {b.value: inputs.branch_channels(b) for b in spec.branches}, spec.feature_size, spec.fusion_channels,
            spec.fusion_level, spec.cbam, depths=spec.depths, num_heads=spec.num_heads,
            window_size=spec.window_size, use_v2=spec.use_v2, drop_path_rate=spec.drop_path_rate,
            use_checkpoint=spec.use_checkpoint)
        channels = source_channels(backbone.in_channels, backbone.out_channels, spec.fusion_channels)
        super().__init__(inputs, backbone, build_head(spec.head, channels, spec.num_classes))
        self.spec = spec
