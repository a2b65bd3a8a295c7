"""Preprocessing parameters (paper §III-B plus the authors' defaults), stored with every cache entry and
checkpoint so that inference preprocesses exactly as training did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from reactkd.graph.rois import MIN_TUMOR_ML
from reactkd.preprocess.grid import GRID_MARGIN_MM, GRID_SIZE
from reactkd.preprocess.intensity import HU_WINDOW, PET_PERCENTILES
from reactkd.preprocess.masks import CLOSING_ITERATIONS, CONNECTIVITY

__all__ = ["PreprocessConfig"]

@dataclass(frozen=True)
class PreprocessConfig:
    """All knobs of :func:`reactkd.preprocess.preprocess_case`; see each constant for why its default."""

    grid_size: int = GRID_SIZE
    margin_mm: float = GRID_MARGIN_MM
    hu_window: tuple[float, float] = HU_WINDOW
    pet_percentiles: tuple[float, float] = PET_PERCENTILES
    closing_iterations: int = CLOSING_ITERATIONS
    min_tumor_ml: float = MIN_TUMOR_ML
    connectivity: int = CONNECTIVITY

    def __post_init__(self) -> None:
        if self.grid_size < 8:
            raise ValueError(f"`grid_size` must be >= 8, got {self.grid_size}.")
        if self.closing_iterations < 0:
            raise ValueError(f"`closing_iterations` must be >= 0, got {self.closing_iterations}.")
        if self.connectivity not in (1, 2, 3):
            raise ValueError(f"`connectivity` must be 1, 2 or 3, got {self.connectivity}.")
        lo, hi = self.hu_window
        if not hi > lo:
            raise ValueError(f"`hu_window` must be (low, high) with high > low, got {self.hu_window}.")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown preprocessing key(s) {unknown}; allowed keys are {sorted(known)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
