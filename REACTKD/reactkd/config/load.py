"""Read an experiment YAML, apply ``key.path=value`` overrides, validate, and write the resolved config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import yaml

from reactkd.config.experiment import ExperimentConfig
from reactkd.config.schema import ConfigError, from_dict, to_dict
from reactkd.dose.levels import resolve_dose
from reactkd.models.inputs import TeacherBranch
from reactkd.models.spec import sharing_teacher, teacher_spec
from reactkd.preprocess import PreprocessConfig
from reactkd.utils.formats import CONFIG_FORMAT, check_format
from reactkd.utils.typed import require

__all__ = ["load_config", "parse_overrides", "dump_config", "config_from_mapping", "read_yaml_config",
           "merge_mappings", "check_config_format", "OLDER_CONFIG"]

OLDER_CONFIG = ("rewrite it in the current shape (README, Configs: `head: {kind: ...}` with that kind's keys, "
                f"`stage2.deploy`, `cbam: null` for no attention) and add `format: {CONFIG_FORMAT}`")
"""What to do with a config of an older format (the line of the error that refuses it)."""


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
    """Validate a mapping (plus overrides) into an :class:`ExperimentConfig`.

    A mapping built in code may leave out ``format`` (it is this version's); a stated other one is refused.
    The student shares the teacher's CBAM3D, so its ``fusion_channels`` and ``cbam`` are the teacher's
    where the mapping gives none (:func:`~reactkd.models.spec.sharing_teacher`) and must equal them.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"an experiment config must be a mapping, got {type(data).__name__}.")
    merged = merge_mappings(data, parse_overrides(overrides))
    check_config_format(merged.get("format", CONFIG_FORMAT), "the config")
    teacher = merged.get("teacher", {})
    if isinstance(merged.get("student", {}), dict) and isinstance(teacher, dict):
        merged["student"] = sharing_teacher(merged.get("student", {}), teacher_spec(teacher))
    config = from_dict(ExperimentConfig, merged)
    _check_values(config)
    return config


def check_config_format(found: str | None, where: str) -> None:
    """Refuse a config of another format version than :data:`~reactkd.utils.formats.CONFIG_FORMAT`."""
    check_format(found, CONFIG_FORMAT, where, OLDER_CONFIG)


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
        raise type(err)(f"{path}: {err}") from None


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read ``path`` (YAML) and validate it (see :func:`read_yaml_config`); the file must state its
    ``format`` (:func:`check_config_format`)."""

    def build(data: dict) -> ExperimentConfig:
        check_config_format(data.get("format") if isinstance(data, dict) else None, "it")
        return config_from_mapping(data, overrides)

    return read_yaml_config(path, build)


def _check_values(c: ExperimentConfig) -> None:
    need = require
    need(c.data.folds >= 2, "data.folds", c.data.folds, ">= 2")
    need(c.data.phantom_patients >= 1, "data.phantom_patients", c.data.phantom_patients, ">= 1")
    size = c.data.phantom_size
    need(size is None or (len(size) == 3 and min(size) >= 16), "data.phantom_size", size,
         "null or 3 voxel counts >= 16")
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
        teacher_spec({**to_dict(c.teacher), **edit}, f"distiller.teachers[{i}]")
    if c.data.unlabelled_manifest and TeacherBranch.DOSE not in c.teacher.branches:
        raise ConfigError("`data.unlabelled_manifest` trains the teacher's dose-aware branch, but "
                          f"`teacher.branches` is {[b.value for b in c.teacher.branches]}: add `dose`, or leave "
                          "the unlabelled manifest out.")
    if c.student.fusion_channels != c.teacher.fusion_channels:
        raise ConfigError(f"`student.fusion_channels` ({c.student.fusion_channels}) must equal "
                          f"`teacher.fusion_channels` ({c.teacher.fusion_channels}): the student shares the teacher's "
                          "CBAM3D (leave it out).")
    if c.student.cbam != c.teacher.cbam:
        raise ConfigError(f"`student.cbam` ({to_dict(c.student.cbam)}) must equal `teacher.cbam` "
                          f"({to_dict(c.teacher.cbam)}): the student shares the teacher's CBAM3D (leave it out).")
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
