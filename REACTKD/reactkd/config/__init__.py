"""Experiment configs: one validated YAML per experiment."""

from reactkd.config.experiment import ExperimentConfig
from reactkd.config.load import config_from_mapping, dump_config, load_config, parse_overrides
from reactkd.config.schema import ConfigError, Device, Precision, StageConfig, to_dict

__all__ = ["ConfigError", "Device", "ExperimentConfig", "Precision", "StageConfig", "config_from_mapping",
           "dump_config", "load_config", "parse_overrides", "to_dict"]
