"""Distillers behind one interface (``DISTILLERS`` registry): REACT-KD and the baselines it is compared with.

Importing this package registers: ``reactkd``, ``kd``, ``at``, ``cirkd``, ``mskd``, ``mtcmkd``, ``awmtkd``,
``ms_sard``, ``ms_ca`` and ``none`` (the student alone, the reference row). The segmentation distillers
(ReCo-KD) are :mod:`reactkd.segment.distill`.
"""

from .alone import StudentAlone
from .base import Distiller, TaskLoss, matched_level_pairs, resolve_level_pairs
from .feature import AT, CIRKD, MSKD
from .logit import KD
from .multi_teacher import AWMTKD, MTCMKD, MultiTeacherDistiller
from .reactkd import REACTKD
from .reco import MSCA, MSSARD
from .registry import DISTILLERS, build_distiller

__all__ = [
    "AT",
    "AWMTKD",
    "CIRKD",
    "DISTILLERS",
    "Distiller",
    "KD",
    "MSCA",
    "MSKD",
    "MSSARD",
    "MTCMKD",
    "MultiTeacherDistiller",
    "REACTKD",
    "StudentAlone",
    "TaskLoss",
    "build_distiller",
    "matched_level_pairs",
    "resolve_level_pairs",
]
