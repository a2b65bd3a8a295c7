"""On-disk cache of simulated low-dose volumes, so training does not simulate the same case twice.

Layout: ``<root>/<case id>/<level or dose0.3>_seed<S>_<digest>.nii``. The digest (12 hex digits of a
SHA-256) covers the simulator's parameters and the input volume (voxels and geometry), so changing
either never returns a stale volume; uncompressed NIfTI keeps the geometry and reads fast. Files are
written to a temporary name in the same folder and renamed (atomic on POSIX and Windows), so a crash or a
concurrent writer never leaves a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from reactkd.dose.levels import DoseLevel, dose_tag, resolve_dose
from reactkd.dose.simulate import LowDoseSimulator

__all__ = ["DoseCache"]

_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DoseCache:
    """Simulated volumes keyed by (case id, dose fraction, seed), plus parameters and input content.

    Args:
        root: cache folder (created on first write).
        simulator: the :class:`LowDoseSimulator` to run on a miss; default parameters if omitted.

    Example:
        >>> cache = DoseCache("runs/dose-cache")                       # doctest: +SKIP
        >>> low = cache.get_or_simulate("HCC_001", ct_image, "severe", seed=0)  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike, simulator: LowDoseSimulator | None = None) -> None:
        self.root = Path(root)
        self.simulator = simulator if simulator is not None else LowDoseSimulator()
        if not isinstance(self.simulator, LowDoseSimulator):
            raise TypeError(f"`simulator` must be a LowDoseSimulator, got {type(self.simulator).__name__}.")

    def path(self, case_id: str, image, dose: DoseLevel | str | float, seed: int) -> Path:
        """Where the volume for this key lives (whether or not it exists yet).

        Raises:
            ValueError: if ``case_id`` is not a plain name (letters, digits, ``. _ -``; no path parts),
                or ``dose`` is invalid.
        """
        if not isinstance(case_id, str) or not _CASE_ID.match(case_id):
            raise ValueError(
                f"`case_id` must be a plain name of letters, digits, '.', '_' or '-' (not starting with "
                f"'.' or '-'), got {case_id!r}."
            )
        resolve_dose(dose)
        return self.root / case_id / f"{dose_tag(dose)}_seed{int(seed)}_{self._digest(image)}.nii"

    def get_or_simulate(self, case_id: str, image, dose: DoseLevel | str | float, seed: int = 0):
        """The cached simulated image if present, else simulate, store atomically and return it.

        Args:
            case_id: plain case name (see :meth:`path`).
            image: 3-D ``SimpleITK.Image`` in HU.
            dose: level or fraction in ``(0, 1]``; ``native`` returns the input as float32 without caching.
            seed: int >= 0.

        Returns:
            float32 ``SimpleITK.Image`` with the input's geometry.
        """

        if resolve_dose(dose) == 1.0:
            return self.simulator(image, dose, seed)
        target = self.path(case_id, image, dose, seed)
        if target.is_file():
            return sitk.ReadImage(str(target))
        result = self.simulator(image, dose, seed)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp.nii", dir=target.parent)
        os.close(fd)
        try:
            sitk.WriteImage(result, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return result

    def _digest(self, image) -> str:

        if not isinstance(image, sitk.Image):
            raise TypeError(f"`image` must be a SimpleITK.Image, got {type(image).__name__}.")
        h = hashlib.sha256()
        h.update(json.dumps(self.simulator.config(), sort_keys=True).encode())
        geometry = (image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection())
        h.update(repr(geometry).encode())
        h.update(np.ascontiguousarray(sitk.GetArrayViewFromImage(image)).tobytes())
        return h.hexdigest()[:12]
