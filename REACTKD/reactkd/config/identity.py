"""When two configs describe the same experiment: a run folder is resumed, never silently reused for another.

A folder written before a config field existed (its YAML lacks the key, the default applies) or with a
logging switch flipped is still the same experiment, with the same teachers; anything that changes what is
trained is not.
"""

from __future__ import annotations

import hashlib
import json

from reactkd.config.experiment import ExperimentConfig
from reactkd.config.load import config_from_mapping
from reactkd.config.schema import ConfigError, to_dict

__all__ = ["LOGGING_ONLY", "without_logging", "config_identity", "teacher_key"]

LOGGING_ONLY: dict[str, tuple[str, ...]] = {"stage1": ("tensorboard",), "stage2": ("tensorboard",)}
"""Switches that change what is logged, never what is trained (section → keys)."""


def without_logging(d: dict) -> dict:
    """``d`` (a config as a plain dict) without the :data:`LOGGING_ONLY` keys."""
    return {k: ({f: x for f, x in v.items() if f not in LOGGING_ONLY[k]} if k in LOGGING_ONLY and isinstance(v, dict)
                else v)
            for k, v in d.items()}


def config_identity(mapping: dict) -> dict:
    """The config with every default filled in, minus logging switches; a mapping this version cannot read
    is returned as it is (only an identical one then matches)."""
    try:
        return without_logging(to_dict(config_from_mapping(mapping)))
    except (ConfigError, TypeError, ValueError):
        return mapping


def teacher_key(config: ExperimentConfig) -> str:
    """A short hash of everything stage 1 depends on (two configs with one key train identical teachers)."""
    d = without_logging(to_dict(config))
    stage1 = {k: d[k] for k in ("teacher", "stage1", "seed", "precision", "device")}
    stage1["data"] = {k: v for k, v in d["data"].items() if k != "cache_dir"}
    if not stage1["data"]["unlabelled_manifest"]:  # inert without unlabelled cases: keys as before they existed
        del stage1["data"]["unlabelled_manifest"]
        stage1["stage1"] = {k: v for k, v in stage1["stage1"].items() if k != "dose_consistency"}
    return hashlib.sha1(json.dumps(stage1, sort_keys=True).encode()).hexdigest()[:10]
