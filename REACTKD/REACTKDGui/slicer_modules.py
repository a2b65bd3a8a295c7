"""The other Slicer modules REACTKD works with, looked up when used: Sample Data (part of Slicer, importable
once the application has started) and the TotalSegmentator extension (where it is installed)."""

from __future__ import annotations

import slicer

from REACTKDLib.totalsegmentator import MODULE_NAME as TOTALSEGMENTATOR

__all__ = ["sample_data_logic", "totalsegmentator_installed", "totalsegmentator_logic"]


def sample_data_logic():
    """The ``SampleData.SampleDataLogic`` class."""
    import SampleData  # Slicer's own module: imported when used, once the application has started

    return SampleData.SampleDataLogic


def totalsegmentator_installed() -> bool:
    return hasattr(slicer.modules, TOTALSEGMENTATOR.lower())


def totalsegmentator_logic():
    """The TotalSegmentator extension's logic, its own Python packages installed (it asks first).

    Raises:
        ImportError: the extension is not installed.
    """
    try:
        logic = slicer.util.getModuleLogic(TOTALSEGMENTATOR)
    except RuntimeError:
        import TotalSegmentator  # the optional extension's module, where it has no widget yet

        logic = TotalSegmentator.TotalSegmentatorLogic()
    if hasattr(logic, "setupPythonRequirements"):
        logic.setupPythonRequirements()  # that extension installs its own packages, asking first
    return logic
