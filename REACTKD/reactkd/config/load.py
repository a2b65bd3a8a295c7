"""Read an experiment YAML, apply ``key.path=value`` overrides, validate, and write the resolved config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import yaml

from reactkd.config.experiment import ExperimentConfig
from reactkd.config.schema import ConfigError, from_dict, to_dict
from reactkd.dose.levels import resolve_dose
from reactkd.models.spec import teacher_spec, upgrade_network_keys
from reactkd.preprocess import PreprocessConfig
from reactkd.utils.typed import require

__all__ = ["load_config", "parse_overrides", "dump_config", "config_from_mapping", "upgrade_legacy_keys",
           "read_yaml_config", "merge_mappings"]


def parse_overrides(items: list[str] | None) -> dict:
    """``["stage1.epochs=2", "teacher.feature_size=12"]`` → nested dict (values parsed as YAML scalars)."""
    out: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like `key.path=value`.")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of `{part}`.")
        node[parts[-1]] = yaml.safe_load(value)
    return out


def merge_mappings(base: dict, update: dict) -> dict:
    merged = dict(base)
    for k, v in update.items():
        merged[k] = merge_mappings(merged[k], v) if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
    return merged


def config_from_mapping(data: dict, overrides: list[str] | None = None) -> ExperimentConfig:
    """Validate a mapping (plus overrides) into an :class:`ExperimentConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"an experiment config must be a mapping, got {type(data).__name__}.")
    merged = upgrade_legacy_keys(merge_mappings(data, parse_overrides(overrides)))
    config = from_dict(ExperimentConfig, merged)
    _check_values(config)
    return config


def upgrade_legacy_keys(data: dict) -> dict:
    """Translate a config written by an earlier version: flat ``teacher``/``student`` keys
    (:func:`~reactkd.models.spec.upgrade_network_keys`), the top-level ``modality_dropout`` (now
    ``student.modality_dropout``) and ``data.preprocess.lesion_crop_size`` (a crop no model read; dropped)."""
    d = dict(data)
    for section in ("teacher", "student"):
        if isinstance(d.get(section), dict):
            d[section] = upgrade_network_keys(d[section])
    if "modality_dropout" in d:
        student = dict(d.get("student") or {})
        student.setdefault("modality_dropout", d.pop("modality_dropout"))
        d["student"] = student
    data_section = d.get("data")
    if isinstance(data_section, dict) and isinstance(data_section.get("preprocess"), dict):
        d["data"] = {**data_section, "preprocess": {k: v for k, v in data_section["preprocess"].items()
                                                    if k != "lesion_crop_size"}}
    return d


def read_yaml_config(path: str | os.PathLike, build: Callable[[dict], Any]) -> Any:
    """Read ``path`` (YAML) and ``build`` a validated config from its mapping; errors name the file.

    Raises:
        FileNotFoundError: the file is missing.
        ConfigError: invalid YAML, or what ``build`` refuses (an unknown key, a wrong type, a value out of range).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    try:
        return build(data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read ``path`` (YAML) and validate it (see :func:`read_yaml_config`)."""
    return read_yaml_config(path, lambda data: config_from_mapping(data, overrides))


def _check_values(c: ExperimentConfig) -> None:
    need = require
    need(c.data.folds >= 2, "data.folds", c.data.folds, ">= 2")
    need(c.data.phantom_patients >= 1, "data.phantom_patients", c.data.phantom_patients, ">= 1")
    size = c.data.phantom_size
    need(size is None or (len(size) == 3 and min(size) >= 16), "data.phantom_size", size, "null or 3 voxel counts >= 16")
    for name, stage in (("stage1", c.stage1), ("stage2", c.stage2)):
        need(stage.epochs >= 1, f"{name}.epochs", stage.epochs, ">= 1")
        need(stage.batch_size >= 1, f"{name}.batch_size", stage.batch_size, ">= 1")
        need(stage.optimizer.lr > 0, f"{name}.optimizer.lr", stage.optimizer.lr, "> 0")
        head_lr = stage.optimizer.head_lr
        need(head_lr is None or head_lr > 0, f"{name}.optimizer.head_lr", head_lr, "null or > 0")
        need(stage.optimizer.weight_decay >= 0, f"{name}.optimizer.weight_decay", stage.optimizer.weight_decay, ">= 0")
        need(stage.grad_clip >= 0, f"{name}.grad_clip", stage.grad_clip, ">= 0 (0 = off)")
        need(stage.num_workers >= 0, f"{name}.num_workers", stage.num_workers, ">= 0")
    for i, edit in enumerate(c.distiller.teachers or []):
        teacher_spec({**to_dict(c.teacher), **upgrade_network_keys(edit)}, f"distiller.teachers[{i}]")
    student_width = c.student.fusion_channels
    if c.student.cbam is None and student_width is not None and student_width != c.teacher.fusion_channels:
        raise ConfigError(f"`student.fusion_channels` ({student_width}) must equal `teacher.fusion_channels` "
                          f"({c.teacher.fusion_channels}) while the student shares the teacher's CBAM3D.")
    try:
        PreprocessConfig.from_dict(c.data.preprocess)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"`data.preprocess`: {err}") from None
    try:
        resolve_dose(c.data.dose_level)
    except ValueError as err:
        raise ConfigError(f"`data.dose_level`: {err}") from None


def dump_config(config: ExperimentConfig, path: str | os.PathLike) -> Path:
    """Write the resolved config (every default filled in) as YAML."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    return path
