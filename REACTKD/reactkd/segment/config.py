"""The segmentation-distillation config (``reactkd seg-distill``): ReCo-KD teacher → compact student.

Same layering as :mod:`reactkd.config.schema` (dataclass defaults, YAML overrides, ``--set``) and built
with its machinery, with the same optimiser/stage blocks, so a seg run reads like a grading run. Every
loss term and weight of stage 2 is in ``distiller.kwargs``; nothing is hard-coded in the trainer.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from typing import Any

from reactkd.config.identity import without_logging
from reactkd.config.load import check_config_format, merge_mappings, parse_overrides, read_yaml_config
from reactkd.config.schema import ConfigError, Device, Precision, StageConfig, from_dict, to_dict
from reactkd.segment.classes import SEG_CLASSES
from reactkd.segment.distill import SEG_DISTILLERS
from reactkd.segment.postprocess import POSTPROCESS_CHOICES
from reactkd.utils.formats import CONFIG_FORMAT

__all__ = ["SegFamily", "SegSelectMetric", "SegControl", "SegStageConfig", "SegStudentStageConfig", "SegDataConfig",
           "SegModelConfig", "SegStudentConfig", "SegLossConfig", "SegExperimentConfig", "load_seg_config",
           "seg_config_from_mapping", "seg_config_identity"]


class SegFamily(str, enum.Enum):
    """MONAI segmentation backbone of teacher and student (one family for both)."""

    SEGRESNET = "segresnet"
    SWINUNETR = "swinunetr"


class SegSelectMetric(str, enum.Enum):
    """Validation metric choosing the best checkpoint: mean foreground Dice, or one class's Dice."""

    DICE = "dice"
    DICE_LIVER = "dice_liver"
    DICE_TUMOR = "dice_tumor"


class SegControl(str, enum.Enum):
    """A control student trained beside the distilled one (:mod:`reactkd.segment.controls`): ``alone`` is the
    same student with the task loss alone (Dice + CE, no teacher term)."""

    ALONE = "alone"


@dataclass
class SegStageConfig(StageConfig):
    """One training stage: a grading :class:`StageConfig` (``fit`` reads the same fields) with segmentation's
    batch size and selection metric."""

    batch_size: int = 2
    select_metric: SegSelectMetric = SegSelectMetric.DICE


@dataclass
class SegStudentStageConfig(SegStageConfig):
    """Stage 2: the distilled student's training, and ``controls``, the control students trained with the same
    settings, initial weights and patches beside it (each one more student training; ``[]`` = none).

    Default ``[alone]``: the distilled student against the same student on the task loss alone is the
    distillation's effect, the pair a claim for ReCo-KD needs; the teacher alone cannot show it.
    """

    controls: list[SegControl] = field(default_factory=lambda: [SegControl.ALONE])


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
    """``format``: the config's format version, as for a grading config (:mod:`reactkd.utils.formats`)."""

    format: str = CONFIG_FORMAT
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
    stage2: SegStudentStageConfig = field(default_factory=SegStudentStageConfig)
    # `kwargs` go to the distiller (`reactkd.segment.distill`); `warmup_epochs: E` there is turned into the
    # distiller's `warmup_steps` (E × batches per epoch): the teacher terms ramp up from 0 over E epochs.
    distiller: dict = field(default_factory=lambda: {"name": "seg_reco", "kwargs": {}})


def seg_config_from_mapping(data: dict, overrides: list[str] | None = None) -> SegExperimentConfig:
    """Validate a mapping (plus ``key.path=value`` overrides) into a :class:`SegExperimentConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"a segmentation config must be a mapping, got {type(data).__name__}.")
    merged = merge_mappings(data, parse_overrides(overrides))
    check_config_format(merged.get("format", CONFIG_FORMAT), "the config")
    config = from_dict(SegExperimentConfig, merged)
    _check_values(config)
    return config


def load_seg_config(path: str | os.PathLike, overrides: list[str] | None = None) -> SegExperimentConfig:
    """Read ``path`` (YAML) and validate it (see :func:`reactkd.config.load.read_yaml_config`); the file must
    state its ``format``."""

    def build(data: dict) -> SegExperimentConfig:
        check_config_format(data.get("format") if isinstance(data, dict) else None, "it")
        return seg_config_from_mapping(data, overrides)

    return read_yaml_config(path, build)


def seg_config_identity(mapping: dict) -> dict:
    """When two seg configs describe the same experiment (see :mod:`reactkd.config.identity`): the config with
    every default filled in, minus logging switches; a mapping this version cannot read is returned as it is
    (only an identical one then matches)."""
    try:
        return without_logging(to_dict(seg_config_from_mapping(mapping)))
    except (ConfigError, TypeError, ValueError):
        return mapping


def _check_values(c: SegExperimentConfig) -> None:
    def need(ok: bool, key: str, value: Any, rule: str) -> None:
        if not ok:
            raise ConfigError(f"`{key}` must be {rule}, got {value!r}.")

    d = c.data
    need(d.phantom_patients >= 3, "data.phantom_patients", d.phantom_patients, ">= 3 (train, validation, test)")
    need(d.spacing_mm > 0, "data.spacing_mm", d.spacing_mm, "> 0")
    hu = d.hu_window
    need(isinstance(hu, list) and len(hu) == 2 and all(isinstance(v, (int, float)) for v in hu) and hu[1] > hu[0],
         "data.hu_window", hu, "[low, high] HU with high > low")
    need(d.patch_size >= 16 and d.patch_size % 16 == 0, "data.patch_size", d.patch_size, "a multiple of 16 (>= 16)")
    need(d.patches_per_case >= 1, "data.patches_per_case", d.patches_per_case, ">= 1")
    need(0.0 <= d.foreground_share <= 1.0, "data.foreground_share", d.foreground_share, "in [0, 1]")
    cs = d.class_sampling
    need(isinstance(cs, list) and len(cs) == 2 and all(isinstance(v, (int, float)) and v >= 0 for v in cs)
         and sum(cs) > 0, "data.class_sampling", cs, "[liver, tumour] non-negative weights, not both 0")
    need(0.0 < d.val_share < 0.5, "data.val_share", d.val_share, "in (0, 0.5)")
    need(0.0 <= d.test_share < 0.5, "data.test_share", d.test_share, "in [0, 0.5)")
    need(0.0 <= d.sw_overlap < 1.0, "data.sw_overlap", d.sw_overlap, "in [0, 1)")
    need(d.postprocess in POSTPROCESS_CHOICES, "data.postprocess", d.postprocess, f"one of {list(POSTPROCESS_CHOICES)}")
    need(c.student.shrink >= 0, "student.shrink", c.student.shrink, ">= 0")
    need(c.student.min_channels >= 1, "student.min_channels", c.student.min_channels, ">= 1")
    need(c.loss.dice_weight >= 0 and c.loss.ce_weight >= 0 and c.loss.dice_weight + c.loss.ce_weight > 0, "loss",
         {"dice_weight": c.loss.dice_weight, "ce_weight": c.loss.ce_weight}, "non-negative weights, not both 0")
    cw = c.loss.class_weights
    if cw is not None:
        need(isinstance(cw, list) and len(cw) == len(SEG_CLASSES)
             and all(isinstance(v, (int, float)) and v >= 0 for v in cw) and sum(cw) > 0,
             "loss.class_weights", cw, f"null or {len(SEG_CLASSES)} non-negative numbers {SEG_CLASSES}")
    for name, stage in (("stage1", c.stage1), ("stage2", c.stage2)):
        need(stage.epochs >= 1, f"{name}.epochs", stage.epochs, ">= 1")
        need(stage.batch_size >= 1, f"{name}.batch_size", stage.batch_size, ">= 1")
        need(stage.optimizer.lr > 0, f"{name}.optimizer.lr", stage.optimizer.lr, "> 0")
        need(stage.grad_clip >= 0, f"{name}.grad_clip", stage.grad_clip, ">= 0 (0 = off)")
    controls = c.stage2.controls
    need(len(set(controls)) == len(controls), "stage2.controls", [k.value for k in controls], "a list without repeats")
    dist = c.distiller
    need(isinstance(dist.get("name"), str), "distiller.name", dist.get("name"), "a registered distiller key")
    extra = sorted(set(dist) - {"name", "kwargs"})
    need(not extra, "distiller", extra, "a mapping with only `name` and `kwargs`")
    need(dist["name"] in SEG_DISTILLERS, "distiller.name", dist["name"], f"one of {SEG_DISTILLERS.keys()}")
