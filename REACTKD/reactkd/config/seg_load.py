"""Read and validate a segmentation-distillation YAML (``reactkd seg-distill --config``)."""

from __future__ import annotations

import os
from typing import Any

from reactkd.config.load import _merge, parse_overrides, read_yaml_config
from reactkd.config.schema import ConfigError, from_dict
from reactkd.config.seg_schema import SegExperimentConfig

__all__ = ["load_seg_config", "seg_config_from_mapping"]


def seg_config_from_mapping(data: dict, overrides: list[str] | None = None) -> SegExperimentConfig:
    """Validate a mapping (plus ``key.path=value`` overrides) into a :class:`SegExperimentConfig`."""
    if not isinstance(data, dict):
        raise ConfigError(f"a segmentation config must be a mapping, got {type(data).__name__}.")
    config = from_dict(SegExperimentConfig, _merge(data, parse_overrides(overrides)))
    _check_values(config)
    return config


def load_seg_config(path: str | os.PathLike, overrides: list[str] | None = None) -> SegExperimentConfig:
    """Read ``path`` (YAML) and validate it (see :func:`reactkd.config.load.read_yaml_config`)."""
    return read_yaml_config(path, lambda data: seg_config_from_mapping(data, overrides))


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
    need(isinstance(cs, list) and len(cs) == 2 and all(isinstance(v, (int, float)) and v >= 0 for v in cs) and sum(cs) > 0,
         "data.class_sampling", cs, "[liver, tumour] non-negative weights, not both 0")
    need(0.0 < d.val_share < 0.5, "data.val_share", d.val_share, "in (0, 0.5)")
    need(0.0 <= d.test_share < 0.5, "data.test_share", d.test_share, "in [0, 0.5)")
    need(0.0 <= d.sw_overlap < 1.0, "data.sw_overlap", d.sw_overlap, "in [0, 1)")
    from reactkd.segment.postprocess import POSTPROCESS_CHOICES

    need(d.postprocess in POSTPROCESS_CHOICES, "data.postprocess", d.postprocess, f"one of {list(POSTPROCESS_CHOICES)}")
    need(c.student.shrink >= 0, "student.shrink", c.student.shrink, ">= 0")
    need(c.student.min_channels >= 1, "student.min_channels", c.student.min_channels, ">= 1")
    need(c.loss.dice_weight >= 0 and c.loss.ce_weight >= 0 and c.loss.dice_weight + c.loss.ce_weight > 0, "loss",
         {"dice_weight": c.loss.dice_weight, "ce_weight": c.loss.ce_weight}, "non-negative weights, not both 0")
    cw = c.loss.class_weights
    if cw is not None:
        from reactkd.segment.classes import SEG_CLASSES

        need(isinstance(cw, list) and len(cw) == len(SEG_CLASSES) and all(isinstance(v, (int, float)) and v >= 0 for v in cw)
             and sum(cw) > 0, "loss.class_weights", cw, f"null or {len(SEG_CLASSES)} non-negative numbers {SEG_CLASSES}")
    for name, stage in (("stage1", c.stage1), ("stage2", c.stage2)):
        need(stage.epochs >= 1, f"{name}.epochs", stage.epochs, ">= 1")
        need(stage.batch_size >= 1, f"{name}.batch_size", stage.batch_size, ">= 1")
        need(stage.optimizer.lr > 0, f"{name}.optimizer.lr", stage.optimizer.lr, "> 0")
        need(stage.grad_clip >= 0, f"{name}.grad_clip", stage.grad_clip, ">= 0 (0 = off)")
    dist = c.distiller
    need(isinstance(dist.get("name"), str), "distiller.name", dist.get("name"), "a registered distiller key")
    extra = sorted(set(dist) - {"name", "kwargs"})
    need(not extra, "distiller", extra, "a mapping with only `name` and `kwargs`")
    from reactkd.distill import DISTILLERS

    seg_keys = [k for k in DISTILLERS.keys() if k.startswith("seg_")]
    need(dist["name"] in seg_keys, "distiller.name", dist["name"], f"one of {seg_keys}")
