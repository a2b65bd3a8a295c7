"""What the REACTKD panels keep in Slicer's settings (``qt.QSettings``): the run folders the model picker
offers (chosen before, produced by REACTKDTrainer) and the segmentation tool last chosen."""

from __future__ import annotations

import qt

from REACTKDLib.model_picker import remember

__all__ = ["RECENT_MODELS", "TRAINED_MODELS", "SEGMENT_SOURCE", "saved_paths", "remember_path", "saved_value",
           "save_value"]

RECENT_MODELS, TRAINED_MODELS = "REACTKD/RecentModels", "REACTKD/TrainedModels"
SEGMENT_SOURCE = "REACTKD/SegmentSource"


def saved_paths(key: str) -> list[str]:
    """The list kept under ``key`` (QSettings gives a single string back for a one-item list)."""
    value = qt.QSettings().value(key)
    if not value:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def remember_path(key: str, path) -> None:
    """Put ``path`` first in the list under ``key`` (REACTKDLib.model_picker.remember: no duplicates, bounded)."""
    qt.QSettings().setValue(key, remember(saved_paths(key), str(path)))


def saved_value(key: str, default: str) -> str:
    return qt.QSettings().value(key) or default


def save_value(key: str, value: str) -> None:
    qt.QSettings().setValue(key, value)
