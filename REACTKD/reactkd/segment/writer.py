"""Write predicted masks for ``reactkd predict`` and the Slicer module: NIfTI masks and a ``.seg.nrrd``.

Files in the output folder (all on the CT's grid):

- ``liver.nii.gz``: uint8 0/1 liver *including* its tumours (the project's liver-mask convention);
- ``tumor.nii.gz``: uint8 0/1 tumours;
- ``segmentation.seg.nrrd``: Slicer segmentation with segments named ``liver`` (including tumours)
  and ``tumor``; they overlap, so they sit on two layers, as Slicer stores overlapping segments.
  ``reactkd predict --liver segmentation.seg.nrrd --tumor segmentation.seg.nrrd`` picks them by name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import slicerio

__all__ = ["write_masks", "SEGMENT_COLORS"]

SEGMENT_COLORS = {"liver": [0.87, 0.51, 0.42], "tumor": [0.93, 0.85, 0.30]}


def _ijk_to_lps(image: sitk.Image) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = np.asarray(image.GetDirection(), float).reshape(3, 3) @ np.diag(image.GetSpacing())
    m[:3, 3] = image.GetOrigin()
    return m


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix="".join(path.suffixes))
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_masks(labels: sitk.Image, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``labels`` (0/1/2 on the CT grid) as the files above; returns name → path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arr = sitk.GetArrayFromImage(labels)  # (Z, Y, X)
    masks = {"liver": arr > 0, "tumor": arr == 2}
    paths = {}
    for name, mask in masks.items():
        image = sitk.GetImageFromArray(mask.astype(np.uint8))
        image.CopyInformation(labels)
        paths[name] = out / f"{name}.nii.gz"
        _atomic(paths[name], lambda tmp, image=image: sitk.WriteImage(image, tmp, True))
    seg = slicerio.create_segmentation(arr.shape[::-1], _ijk_to_lps(labels))
    for name, mask in masks.items():
        slicerio.add_segment(seg, mask.transpose(2, 1, 0), {"id": name, "name": name, "color": SEGMENT_COLORS[name]})
    paths["seg_nrrd"] = out / "segmentation.seg.nrrd"
    _atomic(paths["seg_nrrd"], lambda tmp: slicerio.write_segmentation(tmp, seg))
    return paths
