"""Read an experiment YAML, apply ``key.path=value`` overrides, validate, and write the resolved config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import yaml

from reactkd.config.schema import ConfigError, ExperimentConfig, from_dict, to_dict

__all__ = ["load_config", "parse_overrides", "dump_config", "config_from_mapping"]


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


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for k, v in update.items():
        merged[k] = _merge(merged[k], v) if isinstance(v, dict) and isinstance(merged.get(k), dict) else v
    return merged


def config_from_mapping(data: dict, overrides: list[str] | None = None) -> ExperimentConfig:
    """Validate a mapping (plus overrides) into an :class:`ExperimentConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"an experiment config must be a mapping, got {type(data).__name__}.")
    merged = _merge(data, parse_overrides(overrides))
    config = from_dict(ExperimentConfig, merged)
    _check_values(config)
    return config


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
    def need(ok: bool, key: str, value: Any, rule: str) -> None:
        if not ok:
            raise ConfigError(f"`{key}` must be {rule}, got {value!r}.")

    need(c.data.folds >= 2, "data.folds", c.data.folds, ">= 2")
    need(c.data.phantom_patients >= 1, "data.phantom_patients", c.data.phantom_patients, ">= 1")
    need(0.0 <= c.modality_dropout < 1.0, "modality_dropout", c.modality_dropout, "in [0, 1)")
    for name, stage in (("stage1", c.stage1), ("stage2", c.stage2)):
        need(stage.epochs >= 1, f"{name}.epochs", stage.epochs, ">= 1")
        need(stage.batch_size >= 1, f"{name}.batch_size", stage.batch_size, ">= 1")
        need(stage.optimizer.lr > 0, f"{name}.optimizer.lr", stage.optimizer.lr, "> 0")
        need(stage.optimizer.weight_decay >= 0, f"{name}.optimizer.weight_decay", stage.optimizer.weight_decay, ">= 0")
        need(stage.grad_clip >= 0, f"{name}.grad_clip", stage.grad_clip, ">= 0 (0 = off)")
        need(stage.num_workers >= 0, f"{name}.num_workers", stage.num_workers, ">= 0")
    d = c.distiller
    need(isinstance(d.get("name"), str), "distiller.name", d.get("name"), "a registered distiller key")
    extra = sorted(set(d) - {"name", "kwargs", "teachers"})
    need(not extra, "distiller", extra, "a mapping with only `name`, `kwargs` and `teachers`")
    if "teachers" in d:
        t = d["teachers"]
        need(isinstance(t, list) and len(t) >= 1 and all(isinstance(e, dict) for e in t), "distiller.teachers", t,
             "a non-empty list of mappings, each editing `teacher` (e.g. [{branches: [pet_ct]}, {branches: [dose]}])")
    from reactkd.preprocess import PreprocessConfig

    try:
        PreprocessConfig.from_dict(c.data.preprocess)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"`data.preprocess`: {err}") from None
    from reactkd.dose.levels import resolve_dose

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
