"""The pieces every experiment config shares: device, precision, stages, data; the typed-record machinery.

Layers (mdistiller's ``cfg.py``): every default lives in these dataclasses; an experiment YAML overrides
only what differs; ``--set key.path=value`` overrides on the command line; the resolved config is
written beside every run's results. The network sections are typed specs (``teacher``:
:class:`~reactkd.models.spec.TeacherSpec`, ``student``: :class:`~reactkd.models.spec.StudentSpec`,
``distiller``: :class:`~reactkd.distill.spec.DistillerSpec`); a config never imports code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reactkd.losses.dose_consistency import DoseConsistencySpec
from reactkd.utils.typed import ConfigError, from_dict, to_dict

__all__ = [
    "ConfigError", "Device", "Precision", "Optimizer", "Schedule", "SelectMetric", "Deployment", "OptimizerConfig",
    "StageConfig", "TeacherStageConfig", "StudentStageConfig", "DataConfig", "from_dict", "to_dict",
]


class Device(str, enum.Enum):
    AUTO = "auto"  # CUDA when available, else CPU
    CPU = "cpu"
    CUDA = "cuda"


class Precision(str, enum.Enum):
    FP32 = "fp32"
    BF16 = "bf16"  # autocast to bfloat16 (CUDA, or CPU)
    FP16 = "fp16"  # autocast to float16 with a gradient scaler (CUDA only)
    AUTO = "auto"  # bf16 where the device computes it natively, else fp32 (reactkd.train.performance)


class Optimizer(str, enum.Enum):
    ADAMW = "adamw"
    ADAM = "adam"
    SGD = "sgd"


class Schedule(str, enum.Enum):
    COSINE = "cosine"
    CONSTANT = "constant"


class SelectMetric(str, enum.Enum):
    """What picks the checkpoint a stage keeps (never the training loss).

    ``auc``, ``f1``, ``accuracy``: the highest on validation; ``loss``: the lowest validation cross-entropy
    (a smooth score: on a validation split of ten cases an AUC moves by 0.1 with one case and tends to
    pick an early, barely trained epoch); ``last``: the final epoch, the usual choice when the schedule
    anneals the learning rate to zero and validation is too small to rank epochs. Validation still runs
    and is logged each epoch.
    """

    AUC = "auc"
    F1 = "f1"
    ACCURACY = "accuracy"
    LOSS = "loss"
    LAST = "last"


class Deployment(str, enum.Enum):
    """What the student sees when deployed, and so what its stage-2 validation sees: ``pet_ct`` (the PET
    where a case has it) or ``ct`` (CT alone, the paper's external test: the PET is withheld, declared
    missing and blanked, so the checkpoint kept is the best CT-only one)."""

    PET_CT = "pet_ct"
    CT = "ct"


@dataclass
class OptimizerConfig:
    """``head_lr``: learning rate of the grading head's parameters (None: ``lr`` like the rest). A linear
    head over a few standardised ROI statistics converges in a stage's few hundred steps only at about
    10x the rate a SegResNet or Swin encoder trains stably at (docs/results.md)."""

    name: Optimizer = Optimizer.ADAMW
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 0
    head_lr: float | None = None


@dataclass
class StageConfig:
    """One training stage (stage 1: teachers; stage 2: the student)."""

    epochs: int = 10
    batch_size: int = 4
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: Schedule = Schedule.COSINE
    select_metric: SelectMetric = SelectMetric.AUC
    grad_clip: float = 5.0
    num_workers: int = 0
    tensorboard: bool = False  # also log each epoch's metrics row to OUT/tensorboard (pip install tensorboard)


@dataclass
class TeacherStageConfig(StageConfig):
    """Stage 1 (the teachers): a :class:`StageConfig` plus ``dose_consistency``, the objective the dose-aware
    branch learns from unlabelled CT with (:class:`~reactkd.losses.dose_consistency.DoseConsistencySpec`),
    used when ``data.unlabelled_manifest`` names such cases and inert otherwise."""

    dose_consistency: DoseConsistencySpec = field(default_factory=DoseConsistencySpec)


@dataclass
class StudentStageConfig(StageConfig):
    """Stage 2 (the student): a :class:`StageConfig` plus the condition its checkpoint is selected under.

    ``deploy``: :class:`Deployment`. Default ``pet_ct``: validation sees the inputs as they are; ``ct``:
    a CT-deployed student must be selected on CT alone, since a PET-present validation picks the epoch
    that reads the PET best.
    """

    epochs: int = 20
    batch_size: int = 8
    deploy: Deployment = Deployment.PET_CT


@dataclass
class DataConfig:
    manifest: str | None = None  # None = the embedded phantom cohort
    phantom_patients: int = 60
    phantom_seed: int = 0
    # The phantom CT's acquisition grid (x, y, z voxels over its fixed 384 x 384 x 320 mm field of view);
    # None = the site's (192 x 192 x 64: 2 x 2 x 5 mm). Coarser pixels scan and dose-degrade faster, with
    # less native noise at the same declared fluence (noise std grows as pixel^-1.5).
    phantom_size: list[int] | None = None
    folds: int = 3
    preprocess: dict = field(default_factory=dict)  # PreprocessConfig keys
    dose_level: str = "severe"  # the dose-aware teacher's training degradation
    augment: bool = True
    # Folder of the preprocessing and low-dose caches (cache/, dose-cache/); None = inside the run folder.
    # Entries are keyed by case and parameters, so runs of one cohort (compare, ablate) can share it.
    cache_dir: str | None = None
    # Unlabelled CT for stage 1 (a manifest whose grade column is empty, e.g. from `reactkd manifest` on
    # LiTS): each case enters the teacher's dose-aware branch with `stage1.dose_consistency`; None = none.
    unlabelled_manifest: str | None = None
