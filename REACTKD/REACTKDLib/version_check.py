"""Refuse a Slicer that is too old with one clear message, before anything else of the module runs.

Slicer 5.8 runs Python 3.9; the ``reactkd`` core and this library need Python 3.10 or newer (``X | Y``
types evaluated at run time, dataclass options and standard-library calls added in 3.10), which Slicer 5.10
(Python 3.12) has. This
file itself must import and run on Python 3.9 and older (so the module can say why it does not load
instead of failing with a syntax error): plain syntax only, no ``X | Y`` at run time.
"""

from __future__ import annotations

import re
import sys

__all__ = ["MINIMUM_SLICER", "MINIMUM_PYTHON", "slicer_version_problem"]

MINIMUM_SLICER = (5, 10)
MINIMUM_PYTHON = (3, 10)


def _version_tuple(text):
    numbers = re.findall(r"\d+", str(text or ""))
    return tuple(int(n) for n in numbers[:3]) if numbers else None


def slicer_version_problem(version_info=None, slicer_version=None):
    """One line saying why this Slicer cannot run REACT-KD, or ``None`` when it can.

    Args:
        version_info: the Python version (``sys.version_info`` by default; any ``(major, minor, …)``).
        slicer_version: Slicer's version string (``slicer.app.applicationVersion``, e.g. ``"5.8.1"`` or
            ``"5.11.0-2025-10-01"``), or ``None`` where unknown (Python's version decides alone).
    """
    python = tuple(version_info if version_info is not None else sys.version_info)[:2]
    slicer = _version_tuple(slicer_version)
    too_old_python = python < MINIMUM_PYTHON
    too_old_slicer = slicer is not None and slicer[:2] < MINIMUM_SLICER
    if not (too_old_python or too_old_slicer):
        return None
    have = (f"this is Slicer {slicer_version} with Python {python[0]}.{python[1]}" if slicer_version
            else f"this Python is {python[0]}.{python[1]}")
    return (f"REACT-KD needs 3D Slicer {MINIMUM_SLICER[0]}.{MINIMUM_SLICER[1]} or newer (Python "
            f"{MINIMUM_PYTHON[0]}.{MINIMUM_PYTHON[1]}+); {have}. Install the current Slicer from "
            "https://download.slicer.org and add REACT-KD from its Extensions Manager.")
