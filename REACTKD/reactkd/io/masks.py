"""Read liver / tumour masks from label maps, Slicer ``.seg.nrrd`` files and DICOM SEG objects.

A mask is given as ``PATH`` or ``PATH:LABEL``. ``LABEL`` is an integer label value (multi-label maps,
e.g. TotalSegmentator's liver = 5), several joined by ``+`` for their union (LiTS: ``seg.nii:1+2`` is the
liver with its tumours, whose voxels its liver label 1 leaves out), or a segment name (``.seg.nrrd`` and
DICOM SEG, case-insensitive). For ``.seg.nrrd`` files the values are label values, for DICOM SEG segment
numbers.
Without ``LABEL``, segments are chosen by the role's names (liver: "liver"; tumour: "tumor", "tumour",
"lesion", "hcc", …), and a plain label map must hold a single non-zero label.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import SimpleITK as sitk
import slicerio

from reactkd.io.geometry import boxes_intersect, foreground_world_box, resample_to, world_corners
from reactkd.io.images import is_dicom_seg, read_image, validate_direction
from reactkd.io.seg_frames import segments_volume

__all__ = ["MaskSpec", "parse_mask_spec", "read_mask", "mask_onto", "TUMOR_NAMES", "LIVER_NAMES"]

TUMOR_NAMES = ("tumor", "tumour", "lesion", "hcc", "cancer", "neoplasm", "mass")
LIVER_NAMES = ("liver",)
# Below this share of the CT's box covered, a PET almost surely belongs to another scan. (Masks are judged
# by where their voxels lie, not by their box: a mask cropped to its bounding box covers little of the CT.)
MIN_OVERLAP = 0.05
# Above this share of a mask's volume falling outside the CT's field of view, a warning says so.
OUTSIDE_WARNING = 0.1


@dataclass(frozen=True)
class MaskSpec:
    """A mask source: ``path`` plus an optional ``label``: a label value, a tuple of them (their union) or a
    segment name."""

    path: Path
    label: int | tuple[int, ...] | str | None = None

    @property
    def label_text(self) -> str | None:
        """The label as written after the colon: ``5``, ``1+2``, ``Liver``; None without one."""
        if isinstance(self.label, tuple):
            return "+".join(map(str, self.label))
        return None if self.label is None else str(self.label)

    def __str__(self) -> str:
        return f"{self.path}:{self.label_text}" if self.label is not None else str(self.path)


def _label_values(label: int | tuple[int, ...]) -> tuple[int, ...]:
    return label if isinstance(label, tuple) else (label,)


def parse_mask_spec(spec: str | os.PathLike | MaskSpec) -> MaskSpec:
    """Split ``PATH[:LABEL]``. A colon belongs to the path when what follows it looks like a path
    (contains a separator) or when it is a Windows drive letter (``C:\\...``)."""
    if isinstance(spec, MaskSpec):
        return spec
    text = os.fspath(spec)
    head, sep, tail = text.rpartition(":")
    if not sep or not head or "/" in tail or "\\" in tail or (len(head) == 1 and head.isalpha()):
        return MaskSpec(Path(text))
    if Path(text).exists() and not Path(head).exists():
        return MaskSpec(Path(text))  # a file whose name really contains a colon
    label: int | tuple[int, ...] | str = tail
    if re.fullmatch(r"[+-]?\d+", tail):
        label = int(tail)
    elif re.fullmatch(r"\d+(\+\d+)+", tail):
        label = tuple(dict.fromkeys(int(v) for v in tail.split("+")))
    return MaskSpec(Path(head), label)


def _role_names(role: str) -> tuple[str, ...]:
    # The role may carry a prefix ("case X: tumor", as load_case names it): its last part says which.
    last = role.lower().rsplit(":", 1)[-1].strip()
    return TUMOR_NAMES if last.startswith(("tum", "les")) else LIVER_NAMES


def _choose_segments(names: list[str], spec: MaskSpec, role: str) -> list[int]:
    """Indices of the segments to merge into the mask, by explicit name or by the role's names."""
    lowered = [n.strip().lower() for n in names]
    if isinstance(spec.label, str):
        hits = [i for i, n in enumerate(lowered) if n == spec.label.strip().lower()]
        if not hits:
            raise ValueError(f"{role} mask {spec}: no segment named {spec.label!r}; segments are {names}.")
        return hits
    is_tumor = [any(t in n for t in TUMOR_NAMES) for n in lowered]
    if _role_names(role) == TUMOR_NAMES:
        hits = [i for i, t in enumerate(is_tumor) if t]
    else:
        hits = [i for i, n in enumerate(lowered) if "liver" in n and not is_tumor[i]]
    if not hits:
        raise ValueError(
            f"{role} mask {spec.path}: no segment name matches {list(_role_names(role))}; segments are {names}. "
            f"Choose one with PATH:NAME."
        )
    return hits


def _image_from_ijk(mask_ijk: np.ndarray, ijk_to_lps: np.ndarray) -> sitk.Image:
    m = np.asarray(ijk_to_lps, dtype=float)
    spacing = np.linalg.norm(m[:3, :3], axis=0)
    if not np.all(np.isfinite(m)) or spacing.min() <= 0:
        raise ValueError(f"its ijkToLPS matrix is degenerate: {m.tolist()}.")
    image = sitk.GetImageFromArray(np.ascontiguousarray(mask_ijk.transpose(2, 1, 0)).astype(np.uint8))
    image.SetSpacing(spacing.tolist())
    image.SetDirection((m[:3, :3] / spacing).flatten().tolist())
    image.SetOrigin(m[:3, 3].tolist())
    return image


def _read_seg_nrrd(spec: MaskSpec, role: str) -> sitk.Image:
    seg = slicerio.read_segmentation(str(spec.path))
    segments = seg.get("segments", [])
    names = [s.get("name", s.get("id", "")) for s in segments]
    if isinstance(spec.label, (int, tuple)):
        wanted = _label_values(spec.label)
        chosen = [s for s in segments if int(s.get("labelValue", -1)) in wanted]
        found = {int(s.get("labelValue", -1)) for s in chosen}
        missing = [v for v in wanted if v not in found]
        if missing:
            values = [s.get("labelValue") for s in segments]
            raise ValueError(f"{role} mask {spec}: no segment with label value {missing[0]}; values are {values}.")
    else:
        chosen = [segments[i] for i in _choose_segments(names, spec, role)]
    mask = np.zeros(seg["voxels"].shape[-3:], dtype=bool)
    for s in chosen:
        mask |= slicerio.segment_mask(seg, s)
    try:
        return _image_from_ijk(mask, seg["ijkToLPS"])
    except ValueError as err:
        raise ValueError(f"{role} mask {spec.path}: {err}") from None


def _read_dicom_seg(spec: MaskSpec, role: str) -> sitk.Image:
    seg = hd.seg.segread(str(spec.path))
    numbers = list(seg.segment_numbers)
    names = [seg.get_segment_description(n).segment_label for n in numbers]
    if isinstance(spec.label, (int, tuple)):
        chosen = list(_label_values(spec.label))
        missing = [n for n in chosen if n not in numbers]
        if missing:
            raise ValueError(f"{role} mask {spec}: no segment number {missing[0]}; numbers are {numbers}.")
    else:
        chosen = [numbers[i] for i in _choose_segments(names, spec, role)]
    if not hasattr(seg, "get_volume"):  # highdicom < 0.23, as resolved beside Slicer's pydicom 2.4
        return segments_volume(seg, chosen, f"{role} mask {spec.path}")
    volume = seg.get_volume(segment_numbers=chosen, combine_segments=True, relabel=True)
    binary = volume.with_array((np.asarray(volume.array) > 0).astype(np.uint8))
    return binary.to_simpleitk()


def _has_segment_metadata(path: Path) -> bool:
    if not path.name.lower().endswith(".nrrd"):
        return False
    with open(path, "rb") as f:
        header = f.read(65536).split(b"\n\n", 1)[0]
    return b"Segment0_" in header


def _select_label(image: sitk.Image, spec: MaskSpec, role: str) -> sitk.Image:
    array = sitk.GetArrayViewFromImage(image)
    if isinstance(spec.label, str):
        raise ValueError(
            f"{role} mask {spec}: a plain label map has no segment names; give an integer label value (PATH:5)."
        )
    if spec.label is None:
        values = np.unique(array)
        nonzero = values[values != 0]
        if len(nonzero) > 1:
            shown = nonzero[:12].tolist()
            raise ValueError(
                f"{role} mask {spec.path} is a multi-label map with labels {shown}"
                f"{' …' if len(nonzero) > 12 else ''}; choose one with PATH:LABEL."
            )
        selected = array != 0
    else:
        selected = np.isin(array, _label_values(spec.label))
    out = sitk.GetImageFromArray(selected.astype(np.uint8))
    out.CopyInformation(image)
    return out


def read_mask(
    spec: str | os.PathLike | MaskSpec,
    role: str = "liver",
    reference: sitk.Image | None = None,
) -> sitk.Image:
    """Read a binary mask (uint8 0/1) and, if given, bring it onto ``reference``'s grid.

    Args:
        spec: ``PATH`` or ``PATH:LABEL`` (see the module docstring); ``PATH`` may be a NIfTI/NRRD/MHA
            label map, a Slicer ``.seg.nrrd``, a DICOM SEG file or a DICOM series folder.
        role: ``"liver"`` or ``"tumor"``: picks default segment names and names the mask in errors.
        reference: the CT; a mask on another grid is resampled onto it in world space with nearest
            neighbour interpolation.

    Returns:
        A uint8 image with values 0/1 (may be all zero: emptiness is judged by the caller).

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: unknown segment name or label, an ambiguous multi-label map, a non-3-D image, or a
            mask that does not overlap ``reference`` in world space.
    """
    spec = parse_mask_spec(spec)
    if not spec.path.exists():
        raise FileNotFoundError(f"{role} mask: file not found: {spec.path}")
    if spec.path.is_file() and is_dicom_seg(spec.path):
        mask = _read_dicom_seg(spec, role)
    elif spec.path.is_file() and _has_segment_metadata(spec.path):
        mask = _read_seg_nrrd(spec, role)
    else:
        mask = _select_label(read_image(spec.path, role=f"{role} mask"), spec, role)
    validate_direction(mask.GetDirection(), f"{role} mask {spec.path}")
    if reference is not None:
        mask = mask_onto(mask, reference, f"{role} mask {spec}")
    return mask


def _share_outside(mask: sitk.Image, reference: sitk.Image) -> float:
    """Share of ``mask``'s non-zero voxel centres that fall outside ``reference``'s voxel-edge box."""
    idx = np.argwhere(sitk.GetArrayViewFromImage(mask) != 0)[:, ::-1].astype(float)  # (n, 3) x-y-z
    d = np.asarray(mask.GetDirection(), float).reshape(3, 3)
    world = np.asarray(mask.GetOrigin()) + (idx * np.asarray(mask.GetSpacing())) @ d.T
    d_ref = np.asarray(reference.GetDirection(), float).reshape(3, 3)
    ref_idx = ((world - np.asarray(reference.GetOrigin())) @ d_ref) / np.asarray(reference.GetSpacing())
    size = np.asarray(reference.GetSize(), float)
    inside = np.all((ref_idx >= -0.5) & (ref_idx <= size - 0.5), axis=1)
    return float(1 - inside.mean())


def mask_onto(mask: sitk.Image, reference: sitk.Image, name: str) -> sitk.Image:
    """Bring a binary mask onto ``reference``'s grid (nearest neighbour, world space), judging overlap by
    where the mask's voxels lie in the world, not by its box: a tumour mask cropped to its bounding box,
    a tumour on its own finer grid, or a cropped liver on a whole-body CT are all fine.

    Raises:
        ValueError: the mask's non-zero voxels lie entirely outside ``reference``'s field of view.

    Warns:
        UserWarning: more than :data:`OUTSIDE_WARNING` of the mask's volume falls outside the CT, or a
            non-empty mask vanishes on the CT grid (smaller than a CT voxel).
    """
    box = foreground_world_box(mask)
    ct_corners = world_corners(reference)
    if box is not None and not boxes_intersect(box, (ct_corners.min(0), ct_corners.max(0))):
        raise ValueError(
            f"{name}: its voxels lie outside the CT's field of view (mask at {np.round(box[0], 1).tolist()}–"
            f"{np.round(box[1], 1).tolist()} mm, CT at {np.round(ct_corners.min(0), 1).tolist()}–"
            f"{np.round(ct_corners.max(0), 1).tolist()} mm): it does not overlap the CT (another scan or frame "
            "of reference?)."
        )
    on_ct = resample_to(mask, reference, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    if box is not None:
        outside = _share_outside(mask, reference)
        if not np.any(sitk.GetArrayViewFromImage(on_ct)):
            warnings.warn(f"{name}: the mask vanishes on the CT grid ({100 * outside:.0f} % of it outside the CT's "
                          "field of view, the rest smaller than a CT voxel).", UserWarning, stacklevel=3)
        elif outside > OUTSIDE_WARNING:
            warnings.warn(f"{name}: {100 * outside:.0f} % of the mask lies outside the CT's field of view and is "
                          "cut off.", UserWarning, stacklevel=3)
    return on_ct
