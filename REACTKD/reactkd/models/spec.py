"""Typed specs of the grading networks: what a config's ``teacher`` and ``student`` sections hold.

Every default lives here, once, or in the spec of the part it configures (:class:`~reactkd.models.cbam.CBAMSpec`,
the head specs of :mod:`~reactkd.models.heads`). A spec validates its own values when built (``ConfigError``
naming the key); :func:`~reactkd.utils.typed.from_dict` refuses unknown keys with the closest allowed one.
A checkpoint stores its network's spec (``model_kwargs``), which rebuilds the network exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reactkd.models.cbam import CBAMSpec
from reactkd.models.gap_head import GapHeadSpec
from reactkd.models.heads import HeadSpec
from reactkd.models.inputs import TeacherBranch
from reactkd.utils.typed import from_dict, require, to_dict

__all__ = ["TeacherSpec", "StudentSpec", "teacher_spec", "student_spec", "spec_or_keys", "sharing_teacher",
           "DEFAULT_FUSION_CHANNELS"]

DEFAULT_FUSION_CHANNELS = 128
"""The common width teacher and student project to (the authors' configuration)."""


@dataclass
class TeacherSpec:
    """Dual-branch Swin teacher (paper §III-C): one SwinUNETR encoder per branch, fused through the CBAM3D.

    Defaults are the paper's (feature size 48, SwinUNETR's depths, heads and window) unless noted.
    ``fusion_channels`` 128 and ``fusion_level`` 4 (the deepest map, stride 32) come from the authors'
    configuration.
    """

    num_classes: int = 3
    branches: list[TeacherBranch] = field(default_factory=lambda: [TeacherBranch.PET_CT, TeacherBranch.DOSE])
    pet_channels: int = 2  # FDG, acetate
    roi_channels: bool = False  # [liver, tumours] ROI fractions as two more channels of every branch
    feature_size: int = 48
    window_size: int = 7
    depths: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    num_heads: list[int] = field(default_factory=lambda: [3, 6, 12, 24])
    use_v2: bool = True
    drop_path_rate: float = 0.0
    use_checkpoint: bool = False  # gradient checkpointing: memory for time
    fusion_channels: int = DEFAULT_FUSION_CHANNELS
    fusion_level: int = 4
    cbam: CBAMSpec | None = field(default_factory=CBAMSpec)  # None: no attention (the "w/o CBAM3D" ablation)
    head: HeadSpec = field(default_factory=GapHeadSpec)

    def __post_init__(self) -> None:
        self.branches = [TeacherBranch(b) for b in self.branches]
        require(bool(self.branches) and len(set(self.branches)) == len(self.branches), "branches",
                [b.value for b in self.branches], f"a non-empty subset of {[b.value for b in TeacherBranch]}")
        self.branches = [b for b in TeacherBranch if b in self.branches]
        require(self.num_classes >= 2, "num_classes", self.num_classes, ">= 2")
        if TeacherBranch.PET_CT in self.branches:
            require(self.pet_channels >= 1, "pet_channels", self.pet_channels, ">= 1 with the pet_ct branch")
        require(self.feature_size >= 12 and self.feature_size % 12 == 0, "feature_size", self.feature_size,
                "a positive multiple of 12")
        require(len(self.depths) == 4 and len(self.num_heads) == 4, "depths/num_heads",
                (self.depths, self.num_heads), "4 entries each")
        require(self.window_size >= 1, "window_size", self.window_size, ">= 1")
        require(self.fusion_channels >= 1, "fusion_channels", self.fusion_channels, ">= 1")
        require(self.fusion_level in range(5), "fusion_level", self.fusion_level, "in 0..4")
        bad = [i for i in self.head.levels() if i not in range(5)]
        require(not bad, "head.sources", getattr(self.head, "sources", None), "encoder levels in level0..level4")


@dataclass
class StudentSpec:
    """SegResNet student (paper §III-D): encoder → projection → the CBAM3D (shared with the teacher) → head.

    Every field is an explicit value. A student that shares a teacher's CBAM3D (every experiment's) takes
    ``fusion_channels`` and ``cbam`` from that teacher where its mapping gives none (:func:`sharing_teacher`,
    the one place this is resolved); the spec stored in a checkpoint then rebuilds the student alone, with
    an own CBAM3D of that shape.

    Attributes:
        pet_channels: PET channels in the input; 0 is the CT-only student. Default 0. A student that takes
            PET also takes the ``(B, 2)`` modality mask as two constant channels (absence is declared, never
            guessed from zeros); a CT-only student has nothing to declare.
        roi_channels: append ``[liver, tumours]`` ROI fractions as two input channels.
        modality_dropout: probability of blanking the PET or the CT of a two-modality case in training.
            Default 0.3 (see :class:`~reactkd.cohort.modality.ModalityDropout`).
        init_filters, blocks_down: SegResNet width and residual blocks per stage (MONAI's defaults
            ``(1, 2, 2, 4)``; 8 filters: 1.1 M parameters).
        fusion_channels: the common width of the fused map. Default 128.
        cbam: the CBAM3D's spec; None: no attention.
        train_shared_cbam: whether stage 2 also trains the CBAM3D the student shares with the teacher.
            Default False: training it would move the teacher's fused features and logits — the
            distillation targets — while the student learns. A student built alone trains its own.
        head: a head spec (``{kind: gap|region|graph, ...}``). Default ``{kind: gap}``.
    """

    num_classes: int = 3
    pet_channels: int = 0
    roi_channels: bool = False
    modality_dropout: float = 0.3
    init_filters: int = 8
    blocks_down: list[int] = field(default_factory=lambda: [1, 2, 2, 4])
    fusion_channels: int = DEFAULT_FUSION_CHANNELS
    cbam: CBAMSpec | None = field(default_factory=CBAMSpec)
    train_shared_cbam: bool = False
    head: HeadSpec = field(default_factory=GapHeadSpec)

    def __post_init__(self) -> None:
        require(self.num_classes >= 2, "num_classes", self.num_classes, ">= 2")
        require(self.pet_channels >= 0, "pet_channels", self.pet_channels, ">= 0")
        require(0.0 <= self.modality_dropout < 1.0, "modality_dropout", self.modality_dropout, "in [0, 1)")
        require(self.init_filters >= 8 and self.init_filters % 8 == 0, "init_filters", self.init_filters,
                "a positive multiple of 8 (SegResNet's group norm)")
        require(len(self.blocks_down) >= 1 and all(b >= 1 for b in self.blocks_down), "blocks_down",
                self.blocks_down, "a non-empty list of positive integers")
        require(self.fusion_channels >= 1, "fusion_channels", self.fusion_channels, ">= 1")
        bad = [i for i in self.head.levels() if i not in range(len(self.blocks_down))]
        require(not bad, "head.sources", getattr(self.head, "sources", None),
                f"encoder levels in level0..level{len(self.blocks_down) - 1}")

    @property
    def indicators(self) -> bool:
        """Whether the modality mask joins the input as two channels: exactly when the student takes PET."""
        return self.pet_channels > 0


def spec_or_keys(spec, keys: dict):
    """``spec`` (a spec or mapping) or, without one, the keyword ``keys``; refuses both at once."""
    if spec is not None and keys:
        raise ValueError(f"pass a spec or its keys, not both (got a spec and {sorted(keys)}).")
    return spec if spec is not None else keys


def teacher_spec(data: dict | TeacherSpec | None = None, path: str = "teacher") -> TeacherSpec:
    """A :class:`TeacherSpec` from a mapping, or as given."""
    if isinstance(data, TeacherSpec):
        return data
    return from_dict(TeacherSpec, data or {}, path)


def student_spec(data: dict | StudentSpec | None = None, path: str = "student") -> StudentSpec:
    """A :class:`StudentSpec` from a mapping, or as given."""
    if isinstance(data, StudentSpec):
        return data
    return from_dict(StudentSpec, data or {}, path)


def sharing_teacher(student: dict, teacher: TeacherSpec) -> dict:
    """The ``student`` mapping with the teacher's ``fusion_channels`` and ``cbam`` where it gives none: a
    student sharing the teacher's CBAM3D projects to its width and is gated by that very module."""
    return {"fusion_channels": teacher.fusion_channels, "cbam": to_dict(teacher.cbam), **student}
