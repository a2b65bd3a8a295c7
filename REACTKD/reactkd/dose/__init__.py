"""Low-dose CT simulation in the sinogram domain (Zeng et al. 2015), named dose levels and its cache.

>>> from reactkd.dose import LowDoseSimulator, DoseLevel
>>> low = LowDoseSimulator()(ct_image, DoseLevel.SEVERE, seed=0)   # doctest: +SKIP
"""

from reactkd.dose.cache import DoseCache
from reactkd.dose.fbp_filter import FBPFilter
from reactkd.dose.levels import MIXED_SHARE, DoseLevel, assign_mixed_cohort, dose_tag, resolve_dose
from reactkd.dose.physics import ELECTRONIC_NOISE_VAR, FLUENCE, MU_WATER
from reactkd.dose.projector import ParallelBeamProjector
from reactkd.dose.simulate import LowDoseSimulator, ReconstructionMode

__all__ = [
    "DoseLevel",
    "resolve_dose",
    "dose_tag",
    "assign_mixed_cohort",
    "MIXED_SHARE",
    "LowDoseSimulator",
    "ReconstructionMode",
    "DoseCache",
    "FBPFilter",
    "ParallelBeamProjector",
    "MU_WATER",
    "FLUENCE",
    "ELECTRONIC_NOISE_VAR",
]
