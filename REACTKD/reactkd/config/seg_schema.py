"""The segmentation-distillation config (``reactkd seg-distill``): ReCo-KD teacher → compact student.

Same layering as :mod:`reactkd.config.schema` (dataclass defaults, YAML overrides, ``--set``), and the
same optimiser/stage blocks, so a seg run reads like a grading run. Every loss term and weight of
stage 2 is in ``distiller.kwargs``; nothing is hard-coded in the trainer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reactkd.config.schema import Device, Precision, StageConfig

__all__ = ["SegFamily", "SegSelectMetric", "SegStageConfig", "SegDataConfig", "SegModelConfig",
           "SegStudentConfig", "SegLossConfig", "SegExperimentConfig"]


class SegFamily(str, enum.Enum):
    """MONAI segmentation backbone of teacher and student (one family for both)."""

    SEGRESNET = "segresnet"
    SWINUNETR = "swinunetr"


class SegSelectMetric(str, enum.Enum):
    """Validation metric choosing the best checkpoint: mean foreground Dice, or one class's Dice."""

    DICE = "dice"
    DICE_LIVER = "dice_liver"
    DICE_TUMOR = "dice_tumor"


@dataclass
class SegStageConfig(StageConfig):
    """One training stage: a grading :class:`StageConfig` (``fit`` reads the same fields) with segmentation's
    batch size and selection metric."""

    batch_size: int = 2
    select_metric: SegSelectMetric = SegSelectMetric.DICE


@dataclass
class SegDataConfig:
    """Which cases and how they are sampled.

    ``manifest``: a cohort manifest (``reactkd.cohort.manifest`` columns; ``grade`` may be empty) whose
    ``liver_mask``/``tumor_mask`` are the labels, e.g. LiTS: ``liver_mask: segmentation-0.nii:1`` and
    ``tumor_mask: segmentation-0.nii:2`` (liver is taken as liver ∪ tumour either way). None = the
    embedded phantom cohort.
    """

    manifest: str | None = None
    phantom_patients: int = 60
    phantom_seed: int = 0
    spacing_mm: float = 4.0  # isotropic resampling of the whole CT (inference needs no mask to place it)
    hu_window: list = field(default_factory=lambda: [-160.0, 240.0])
    patch_size: int = 32  # training patch side (voxels); larger volumes use sliding windows
    patches_per_case: int = 4  # random patches drawn from each training case per epoch
    foreground_share: float = 0.67  # share of patches centred on a liver or tumour voxel
    class_sampling: list = field(default_factory=lambda: [1.0, 1.0])  # liver : tumour odds for those patches
    val_share: float = 0.2  # of patients, for checkpoint selection
    test_share: float = 0.2  # of patients, held out for the teacher-vs-student table
    sw_overlap: float = 0.25  # sliding-window overlap at validation and inference
    # Post-processing of predicted labels at validation and inference (stored in the checkpoint;
    # `reactkd segment --postprocess` overrides): "largest_component" keeps the largest connected
    # liver ∪ tumour component (stray false positives far from the liver dominate HD95), "none" keeps all.
    postprocess: str = "largest_component"


@dataclass
class SegModelConfig:
    """A MONAI network: ``family`` + its constructor kwargs (``init_filters``, ``blocks_down`` …)."""

    family: SegFamily = SegFamily.SEGRESNET
    kwargs: dict = field(default_factory=lambda: {"init_filters": 16})


@dataclass
class SegStudentConfig:
    """The student is the teacher's family with widths C'ᵢ = max(min_channels, 2⁻ᵗ·Cᵢ), t = ``shrink``."""

    shrink: int = 2
    min_channels: int = 8
    kwargs: dict = field(default_factory=dict)  # other constructor overrides (e.g. fewer blocks)


@dataclass
class SegLossConfig:
    """Supervised Dice + cross-entropy on the labels (both stages).

    ``class_weights``: cross-entropy weight per class (background, liver, tumour), None = equal. A tumour
    is ~1% of a patch's voxels, so unweighted CE is content to call it liver; Dice already averages the
    foreground classes with equal weight.
    """

    dice_weight: float = 1.0
    ce_weight: float = 1.0
    class_weights: list | None = None


@dataclass
class SegExperimentConfig:
    name: str = "seg-experiment"
    seed: int = 0
    device: Device = Device.AUTO
    precision: Precision = Precision.FP32
    data: SegDataConfig = field(default_factory=SegDataConfig)
    teacher: SegModelConfig = field(default_factory=SegModelConfig)
    teacher_checkpoint: str | None = None  # a trained seg teacher's best.pt: stage 1 is skipped
    student: SegStudentConfig = field(default_factory=SegStudentConfig)
    loss: SegLossConfig = field(default_factory=SegLossConfig)
    stage1: SegStageConfig = field(default_factory=SegStageConfig)
    stage2: SegStageConfig = field(default_factory=SegStageConfig)
    # `kwargs` go to the distiller (`reactkd.distill.seg_reco`); `warmup_epochs: E` there is turned into the
    # distiller's `warmup_steps` (E × batches per epoch): the teacher terms ramp up from 0 over E epochs.
    distiller: dict = field(default_factory=lambda: {"name": "seg_reco", "kwargs": {}})
