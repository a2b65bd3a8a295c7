"""Reading CT, PET and masks with their world geometry (LPS mm)."""

from reactkd.io.case import Case, load_case
from reactkd.io.geometry import overlap_fraction, resample_to, same_grid
from reactkd.io.images import read_image, validate_image
from reactkd.io.masks import MaskSpec, parse_mask_spec, read_mask

__all__ = [
    "Case",
    "load_case",
    "read_image",
    "validate_image",
    "read_mask",
    "MaskSpec",
    "parse_mask_spec",
    "resample_to",
    "same_grid",
    "overlap_fraction",
]
