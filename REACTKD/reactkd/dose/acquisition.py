r"""A CT's declared acquisition (the scanner it came from) and its JSON sidecar.

A low-dose simulation needs the photon fluence of the acquired scan: a fraction :math:`k` of it adds
image variance :math:`(1/k - 1)\,\sigma^2` where :math:`\sigma` is the acquired noise, and that noise is
set by the fluence, the reconstruction kernel and the pixel (:mod:`reactkd.dose.physics`). A CT written by
:mod:`reactkd.dose.scanner` (the phantom cohorts) declares its acquisition in a sidecar next to the image,
``ct.nii.gz`` → ``ct.json`` (for a DICOM folder: ``<folder>/acquisition.json``), as BIDS does for
acquisition parameters. A user may write one by hand; without it the fluence is estimated from the
image's own noise (:mod:`reactkd.dose.noise_estimate`).

Example sidecar::

    {"fluence": 2.1e7, "kernel": "hann", "electronic_noise_var": 11.0, "mu_water": 0.0192}
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from reactkd.dose.fbp_filter import FBPFilter
from reactkd.dose.physics import ELECTRONIC_NOISE_VAR, MU_WATER

__all__ = ["Acquisition", "sidecar_path", "read_acquisition", "write_acquisition"]

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".seg.nrrd")


@dataclass(frozen=True)
class Acquisition:
    r"""The scanner settings that formed a CT.

    Args:
        fluence: :math:`\Phi`, incident photons per mm^2 at the isocentre over a half rotation, > 0
            (see :func:`reactkd.dose.physics.photons_per_ray`).
        kernel: FBP apodisation window of the reconstruction (:class:`FBPFilter` value).
        electronic_noise_var: :math:`\sigma_e^2` >= 0, counts^2 per ray reading.
        mu_water: attenuation of water in 1/mm at the beam's effective energy, > 0.

    Raises:
        ValueError: for a value out of range or an unknown kernel.
    """

    fluence: float
    kernel: str = FBPFilter.HANN.value
    electronic_noise_var: float = ELECTRONIC_NOISE_VAR
    mu_water: float = MU_WATER

    def __post_init__(self) -> None:
        for name in ("fluence", "mu_water"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not (math.isfinite(value) and value > 0)):
                raise ValueError(f"acquisition `{name}` must be a finite number > 0, got {value!r}.")
        var = self.electronic_noise_var
        if isinstance(var, bool) or not isinstance(var, (int, float)) or not (math.isfinite(var) and var >= 0):
            raise ValueError(f"acquisition `electronic_noise_var` must be a finite number >= 0, got {var!r}.")
        try:
            object.__setattr__(self, "kernel", FBPFilter(self.kernel).value)
        except ValueError:
            allowed = ", ".join(repr(f.value) for f in FBPFilter)
            raise ValueError(f"acquisition `kernel` must be one of {allowed}, got {self.kernel!r}.") from None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "acquisition") -> Acquisition:
        """Build from a mapping; unknown keys are an error naming ``source``."""
        if not isinstance(data, dict):
            raise ValueError(f"{source} must be a JSON object, got {type(data).__name__}.")
        known = {"fluence", "kernel", "electronic_noise_var", "mu_water"}
        extra = sorted(set(data) - known - {"note", "pixel_mm", "slice_mm", "exposure"})
        if extra:
            raise ValueError(f"{source} has unknown key(s) {extra}; expected {sorted(known)}.")
        if "fluence" not in data:
            raise ValueError(f"{source} must give `fluence` (photons per mm^2 over a half rotation).")
        try:
            return cls(**{k: data[k] for k in known if k in data})
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None


def sidecar_path(image_path: str | os.PathLike) -> Path:
    """``ct.nii.gz`` → ``ct.json``; a DICOM folder → ``<folder>/acquisition.json``."""
    path = Path(image_path)
    if path.is_dir():
        return path / "acquisition.json"
    name = path.name
    for suffix in sorted(_IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return path.with_name(name[: -len(suffix)] + ".json")
    return path.with_name(path.stem + ".json")


def read_acquisition(image_path: str | os.PathLike) -> Acquisition | None:
    """The image's declared acquisition, or ``None`` when it has no sidecar.

    Raises:
        ValueError: if the sidecar exists but is not a valid acquisition (names the file).
    """
    side = sidecar_path(image_path)
    if not side.is_file():
        return None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"acquisition sidecar {side} is not readable JSON ({err}).") from None
    return Acquisition.from_dict(data, source=f"acquisition sidecar {side}")


def write_acquisition(image_path: str | os.PathLike, acquisition: Acquisition, **extra) -> Path:
    """Write the sidecar of ``image_path`` atomically (temporary name, then rename); returns its path."""
    side = sidecar_path(image_path)
    payload = {**acquisition.to_dict(), **extra}
    fd, tmp = tempfile.mkstemp(prefix=f".{side.name}.", suffix=".tmp", dir=side.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, side)
    return side
