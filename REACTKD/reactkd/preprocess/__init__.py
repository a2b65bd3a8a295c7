"""Preprocessing (paper §III-B): mask refinement, model grid, intensity normalisation, representations."""

from reactkd.preprocess.config import PreprocessConfig
from reactkd.preprocess.grid import ModelGrid
from reactkd.preprocess.intensity import normalize_ct, normalize_pet, zscore
from reactkd.preprocess.model_input import ModelInput
from reactkd.preprocess.pipeline import preprocess_case, region_graph

__all__ = ["PreprocessConfig", "ModelGrid", "ModelInput", "preprocess_case", "region_graph",
           "normalize_ct", "normalize_pet", "zscore"]
