"""Post-processing of predicted labels: keep the liver, drop what lies outside it.

A patch-trained network sees 100-200 mm of context at a time, so it sometimes calls a bright patch of
spleen, kidney or bowel "liver" or "tumour" far from the organ. Those few stray voxels cost little Dice
but dominate HD95 (the 95th percentile of surface distance jumps to the distance of the stray blob).
There is exactly one liver per scan, so :data:`LARGEST_COMPONENT` keeps the largest connected component
of liver ∪ tumour (26-connectivity) and sets everything else to background: a tumour component not
connected to that liver is dropped with it. Tumours inside the kept component are untouched.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["POSTPROCESS_CHOICES", "NONE", "LARGEST_COMPONENT", "postprocess_labels"]

NONE = "none"
LARGEST_COMPONENT = "largest_component"
POSTPROCESS_CHOICES = (NONE, LARGEST_COMPONENT)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    components, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if n <= 1:
        return mask
    sizes = np.bincount(components.ravel())
    sizes[0] = 0  # background is not a component
    return components == int(sizes.argmax())


def postprocess_labels(labels: np.ndarray, method: str = LARGEST_COMPONENT) -> np.ndarray:
    """``labels`` (0 background, 1 liver, 2 tumour) after ``method`` (a copy; the input is not changed).

    Raises:
        ValueError: an unknown method (the message lists the choices).
    """
    if method not in POSTPROCESS_CHOICES:
        raise ValueError(f"`postprocess` must be one of {list(POSTPROCESS_CHOICES)}, got {method!r}.")
    out = np.array(labels, copy=True)
    if method == LARGEST_COMPONENT and out.any():
        out[~_largest_component(out > 0)] = 0
    return out
