"""Typed specs of the grading networks: what a config's ``teacher`` and ``student`` sections hold.

Every default lives here, once. A spec validates its own values when built (``ConfigError`` naming the
key); :func:`~reactkd.utils.typed.from_dict` refuses unknown keys with the closest allowed one. Configs
written before the specs existed used flat keys (``head: region``, ``head_levels``, ``use_cbam`` …);
:func:`upgrade_network_keys` translates them, so their run folders and checkpoints still load.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace

from reactkd.cohort.inputs import TeacherBranch
from reactkd.utils.typed import ConfigError, from_dict, require

__all__ = ["HeadKind", "HeadNorm", "HeadSpec", "Deployment", "CBAMSpec", "TeacherSpec", "StudentSpec", "upgrade_network_keys",
           "teacher_spec", "student_spec", "standalone_student_spec", "spec_or_keys", "SOURCE_PATTERN",
           "STATISTICS"]

SOURCE_PATTERN = re.compile(r"^(fused|input|level(\d+))$")
"""Names of the maps a region head pools: the fused map, the network's input, or encoder level ``i``."""

STATISTICS = ("mean", "std")
"""What a region head pools per ROI: the weighted mean and standard deviation (:mod:`reactkd.graph.pooling`)."""


class HeadKind(str, enum.Enum):
    """``gap``: global average pooling of the fused map; ``region``: pooling over the ROIs (needs ROI masks);
    ``graph``: a readout over the region graph's nodes (needs ROI masks, see
    :class:`~reactkd.models.graph_head.GraphHead`)."""

    GAP = "gap"
    REGION = "region"
    GRAPH = "graph"


class Deployment(str, enum.Enum):
    """What a student sees when deployed: ``pet_ct`` (PET where a case has it) or ``ct`` (CT alone, the
    paper's external test). A CT-deployed student's best epoch is chosen with the PET withheld."""

    PET_CT = "pet_ct"
    CT = "ct"


class HeadNorm(str, enum.Enum):
    """What a region or graph head does to its features before classifying them. ``none``: nothing (the
    default, so older configs and checkpoints keep their networks); ``batch``: per-feature standardisation
    (:class:`~reactkd.models.standardize.Standardize`) of the embedding (region head) or of the node
    features (graph head)."""

    NONE = "none"
    BATCH = "batch"


@dataclass
class HeadSpec:
    """The grading head.

    Attributes:
        kind: :class:`HeadKind`. Default ``gap`` (the paper's global pooling).
        sources: maps a region head pools over the tumours and the liver, in embedding order:
            ``fused`` (the CBAM-gated fused map), ``input`` (the network's own input channels: mean CT
            attenuation and PET uptake in the ROIs) and ``level<i>`` (encoder level ``i``). Default
            ``[fused]``.
        geometry: a region head also reads the region graph's geometry (tumour count, burden, spread); a
            graph head gives every node its geometry (volume, position relative to the liver, distance to
            the nearest other tumour).
        dropout: before the linear layer, in [0, 1). Default 0.
        hidden: width of a graph head's node MLP and attention. Default 32 (the node features are a few
            dozen numbers); only a graph head has one.
        norm: :class:`HeadNorm`. Default ``none``. ``batch`` matters wherever a head reads the ``input`` or
            geometry: their scales differ by two orders of magnitude (docs/results.md measures it).
        statistics: what a region head pools per ROI and source, among :data:`STATISTICS`: ``mean`` (the
            level: wash-out, uptake ratio) and ``std`` (the heterogeneity: internal texture, a necrotic
            core). Default ``[mean]`` (the paper's masked average pooling; older checkpoints keep their
            heads).
    """

    kind: HeadKind = HeadKind.GAP
    sources: list[str] = field(default_factory=lambda: ["fused"])
    geometry: bool = False
    dropout: float = 0.0
    hidden: int = 32
    norm: HeadNorm = HeadNorm.NONE
    statistics: list[str] = field(default_factory=lambda: ["mean"])

    def __post_init__(self) -> None:
        self.kind = HeadKind(self.kind)
        self.norm = HeadNorm(self.norm)
        require(0.0 <= self.dropout < 1.0, "dropout", self.dropout, "in [0, 1)")
        bad = [s for s in self.sources if not SOURCE_PATTERN.match(str(s))]
        require(bool(self.sources) and not bad and len(set(self.sources)) == len(self.sources), "sources",
                self.sources, "distinct names among fused, input, level<i> (e.g. [fused, level0])")
        require(self.hidden >= 1, "hidden", self.hidden, ">= 1")
        require(bool(self.statistics) and set(self.statistics) <= set(STATISTICS)
                and len(set(self.statistics)) == len(self.statistics), "statistics", self.statistics,
                f"distinct names among {', '.join(STATISTICS)} (e.g. [mean, std])")
        if self.kind is not HeadKind.REGION and self.statistics != ["mean"]:
            raise ConfigError(f"`statistics` {self.statistics} needs `kind: region` (only a region head pools "
                              "several statistics per ROI).")
        if self.kind is HeadKind.GAP and (self.sources != ["fused"] or self.geometry):
            raise ConfigError(f"`sources` {self.sources} and `geometry` need `kind: region` or `kind: graph` "
                              "(a global-average head pools no ROI).")
        if self.kind is HeadKind.GAP and self.norm is not HeadNorm.NONE:
            raise ConfigError(f"`norm` {self.norm.value!r} needs `kind: region` or `kind: graph`.")
        if self.kind is not HeadKind.GRAPH and self.hidden != 32:
            raise ConfigError(f"`hidden` {self.hidden} needs `kind: graph` (only a graph head has a node MLP).")

    def levels(self) -> list[int]:
        """The encoder levels among :attr:`sources`."""
        return [int(m.group(2)) for m in map(SOURCE_PATTERN.match, self.sources) if m.group(2) is not None]


@dataclass
class CBAMSpec:
    """The shared 3D CBAM (see :class:`~reactkd.models.cbam.CBAM3D` for why these defaults)."""

    reduction: int = 8
    kernel: int = 7
    enabled: bool = True  # False: identity, the "w/o CBAM3D" ablation

    def __post_init__(self) -> None:
        require(self.reduction >= 1, "reduction", self.reduction, ">= 1")
        require(self.kernel >= 1 and self.kernel % 2 == 1, "kernel", self.kernel, "a positive odd integer")


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
    fusion_channels: int = 128
    fusion_level: int = 4
    cbam: CBAMSpec = field(default_factory=CBAMSpec)
    head: HeadSpec = field(default_factory=HeadSpec)

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
        require(not bad, "head.sources", self.head.sources, "encoder levels in level0..level4")


@dataclass
class StudentSpec:
    """SegResNet student (paper §III-D): encoder → projection → the CBAM3D (shared with the teacher) → head.

    Attributes:
        pet_channels: PET channels in the input; 0 is the CT-only student. Default 0.
        roi_channels: append ``[liver, tumours]`` ROI fractions as two input channels.
        modality_indicators: append the ``(B, 2)`` modality mask as two constant channels; None → on iff
            ``pet_channels > 0``.
        modality_dropout: probability of blanking the PET or the CT of a two-modality case in training.
            Default 0.3 (see :class:`~reactkd.cohort.modality.ModalityDropout`).
        init_filters, blocks_down: SegResNet width and residual blocks per stage (MONAI's defaults
            ``(1, 2, 2, 4)``; 8 filters: 1.1 M parameters).
        fusion_channels: common width with the teacher; None → the shared CBAM3D's width (128 without one).
        cbam: an own CBAM3D's spec; None → share the teacher's (a standalone student copies its shape).
        cbam_trainable: whether the student trains the CBAM3D; None → False if shared, True if own.
        head: :class:`HeadSpec`.
        deploy: :class:`Deployment`, the input condition the student is selected for (not part of the
            network). Default ``pet_ct``: validation sees the PET where a case has it; ``ct``: the stage-2
            validator withholds the PET, so the checkpoint kept is the best CT-only one.
    """

    num_classes: int = 3
    pet_channels: int = 0
    roi_channels: bool = False
    modality_indicators: bool | None = None
    modality_dropout: float = 0.3
    init_filters: int = 8
    blocks_down: list[int] = field(default_factory=lambda: [1, 2, 2, 4])
    fusion_channels: int | None = None
    cbam: CBAMSpec | None = None
    cbam_trainable: bool | None = None
    head: HeadSpec = field(default_factory=HeadSpec)
    deploy: Deployment = Deployment.PET_CT

    def __post_init__(self) -> None:
        self.deploy = Deployment(self.deploy)
        require(self.num_classes >= 2, "num_classes", self.num_classes, ">= 2")
        require(self.pet_channels >= 0, "pet_channels", self.pet_channels, ">= 0")
        require(0.0 <= self.modality_dropout < 1.0, "modality_dropout", self.modality_dropout, "in [0, 1)")
        require(self.init_filters >= 8 and self.init_filters % 8 == 0, "init_filters", self.init_filters,
                "a positive multiple of 8 (SegResNet's group norm)")
        require(len(self.blocks_down) >= 1 and all(b >= 1 for b in self.blocks_down), "blocks_down",
                self.blocks_down, "a non-empty list of positive integers")
        require(self.fusion_channels is None or self.fusion_channels >= 1, "fusion_channels",
                self.fusion_channels, ">= 1")
        bad = [i for i in self.head.levels() if i not in range(len(self.blocks_down))]
        require(not bad, "head.sources", self.head.sources,
                f"encoder levels in level0..level{len(self.blocks_down) - 1}")

    @property
    def indicators(self) -> bool:
        return self.pet_channels > 0 if self.modality_indicators is None else bool(self.modality_indicators)


_LEGACY_HEAD = ("head_levels", "head_input", "head_geometry", "dropout")
_LEGACY_CBAM = {"cbam_reduction": "reduction", "cbam_kernel": "kernel", "use_cbam": "enabled"}


def upgrade_network_keys(data: dict) -> dict:
    """Translate a ``teacher``/``student`` mapping written with the flat keys of earlier versions.

    ``head: region`` + ``head_levels: [0]`` + ``head_input`` + ``head_geometry`` + ``dropout`` become
    ``head: {kind: region, sources: [fused, input, level0], geometry, dropout}`` (the embedding order the
    flat keys gave); ``cbam_reduction``/``cbam_kernel``/``use_cbam`` become ``cbam: {reduction, kernel,
    enabled}``. Mappings already in the new form are returned unchanged.
    """
    d = dict(data)
    head = d.get("head")
    legacy = {k: d.pop(k) for k in _LEGACY_HEAD if k in d}
    if isinstance(head, str) or legacy:
        spec = dict(head) if isinstance(head, dict) else {"kind": head if head is not None else "gap"}
        if "head_input" in legacy or "head_levels" in legacy:
            sources = list(spec.get("sources", ["fused"]))
            sources += ["input"] * bool(legacy.get("head_input")) + [f"level{int(i)}" for i in legacy.get("head_levels", ())]
            spec["sources"] = list(dict.fromkeys(sources))
        if "head_geometry" in legacy:
            spec["geometry"] = legacy["head_geometry"]
        if "dropout" in legacy:
            spec["dropout"] = legacy["dropout"]
        d["head"] = spec
    cbam = {new: d.pop(old) for old, new in _LEGACY_CBAM.items() if old in d}
    if cbam:
        d["cbam"] = {**(d.get("cbam") or {}), **cbam}
    return d


def spec_or_keys(spec, keys: dict):
    """``spec`` (a spec or mapping) or, without one, the keyword ``keys``; refuses both at once."""
    if spec is not None and keys:
        raise ValueError(f"pass a spec or its keys, not both (got a spec and {sorted(keys)}).")
    return spec if spec is not None else keys


def teacher_spec(data: dict | TeacherSpec | None = None, path: str = "teacher") -> TeacherSpec:
    """A :class:`TeacherSpec` from a mapping (legacy keys translated) or as given."""
    if isinstance(data, TeacherSpec):
        return data
    return from_dict(TeacherSpec, upgrade_network_keys(data or {}), path)


def student_spec(data: dict | StudentSpec | None = None, path: str = "student") -> StudentSpec:
    """A :class:`StudentSpec` from a mapping (legacy keys translated) or as given."""
    if isinstance(data, StudentSpec):
        return data
    return from_dict(StudentSpec, upgrade_network_keys(data or {}), path)


def standalone_student_spec(student: StudentSpec, teacher: TeacherSpec) -> StudentSpec:
    """The student with its own CBAM3D of the shared one's shape: what rebuilds it without the teacher."""
    return replace(student, fusion_channels=student.fusion_channels or teacher.fusion_channels,
                   cbam=student.cbam or teacher.cbam, cbam_trainable=None)
