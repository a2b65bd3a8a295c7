"""The experiment config: one YAML file per experiment, validated key by key.

Layers (mdistiller's ``cfg.py``): every default lives in these dataclasses; an experiment YAML overrides
only what differs; ``--set key.path=value`` overrides on the command line; the resolved config is
written beside every run's results. Components are named by registered keys plus ``kwargs`` (models,
distillers); a config never imports code.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConfigError", "Device", "Precision", "OptimizerConfig", "StageConfig", "DataConfig", "ExperimentConfig",
    "from_dict", "to_dict",
]


class ConfigError(ValueError):
    """A config value or key that is not allowed; the message names the key path."""


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
    """Validation metric that picks the best checkpoint (never the training loss)."""

    AUC = "auc"
    F1 = "f1"
    ACCURACY = "accuracy"


@dataclass
class OptimizerConfig:
    name: Optimizer = Optimizer.ADAMW
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 0


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
class DataConfig:
    manifest: str | None = None  # None = the embedded phantom cohort
    phantom_patients: int = 60
    phantom_seed: int = 0
    folds: int = 3
    preprocess: dict = field(default_factory=dict)  # PreprocessConfig keys
    dose_level: str = "severe"  # the dose-aware teacher's training degradation
    augment: bool = True
    # Folder of the preprocessing and low-dose caches (cache/, dose-cache/); None = inside the run folder.
    # Entries are keyed by case and parameters, so runs of one cohort (compare, ablate) can share it.
    cache_dir: str | None = None


@dataclass
class ExperimentConfig:
    name: str = "experiment"
    seed: int = 0
    device: Device = Device.AUTO
    precision: Precision = Precision.FP32
    data: DataConfig = field(default_factory=DataConfig)
    teacher: dict = field(default_factory=dict)  # build_teacher kwargs
    student: dict = field(default_factory=dict)  # build_student kwargs
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=lambda: StageConfig(epochs=20, batch_size=8))
    distiller: dict = field(default_factory=lambda: {"name": "reactkd", "kwargs": {}})
    modality_dropout: float = 0.3


def _convert(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"`{path}` must be a mapping, got {type(value).__name__}: {value!r}.")
        return from_dict(annotation, value, path)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, path)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            allowed = [m.value for m in annotation]
            raise ConfigError(f"`{path}` must be one of {allowed}, got {value!r}.") from None
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"`{path}` must be true or false, got {value!r}.")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"`{path}` must be an integer, got {value!r}.")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"`{path}` must be a number, got {value!r}.")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"`{path}` must be a string, got {value!r}.")
        return value
    if annotation is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"`{path}` must be a mapping, got {value!r}.")
        return dict(value)
    return value


def from_dict(cls: type, data: dict, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, refusing unknown keys (with the closest allowed key)."""
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else key
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" Did you mean `{(path + '.' if path else '') + close[0]}`?" if close else ""
            raise ConfigError(f"unknown config key `{full}`; allowed here: {known}.{hint}")
        kwargs[key] = _convert(value, hints[key], full)
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """A plain, YAML-safe dict of a config (enums as their values)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
