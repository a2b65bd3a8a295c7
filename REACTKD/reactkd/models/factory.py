"""Build models from plain keyword arguments (what a config file's ``kwargs`` block holds)."""

from __future__ import annotations

from typing import Any

from .registry import Registry
from .student import Student
from .teacher import Teacher

__all__ = ["MODELS", "build_teacher", "build_student", "build_model"]

MODELS = Registry("model")
"""Config keys → model classes: ``"teacher"`` (:class:`Teacher`), ``"student"`` (:class:`Student`)."""
MODELS.register(Teacher, key="teacher")
MODELS.register(Student, key="student")


def build_teacher(**kwargs: Any) -> Teacher:
    """``Teacher(**kwargs)``; e.g. ``build_teacher(feature_size=48, branches=["pet_ct"])``."""
    return Teacher(**kwargs)


def build_student(teacher: Teacher | None = None, share_cbam: bool = True, **kwargs: Any) -> Student:
    """Build a :class:`Student`, sharing ``teacher.cbam`` when a teacher is given and ``share_cbam``.

    The student's ``fusion_channels`` defaults to the teacher's CBAM width when sharing.

    Raises:
        ValueError: if both ``teacher`` (with ``share_cbam``) and ``cbam`` are given.
    """
    if teacher is not None and share_cbam:
        if "cbam" in kwargs:
            raise ValueError("pass either `teacher` (to share its CBAM3D) or `cbam`, not both.")
        kwargs["cbam"] = teacher.cbam
        kwargs.setdefault("fusion_channels", teacher.cbam.channels)
    return Student(**kwargs)


def build_model(name: str, **kwargs: Any) -> Any:
    """Build the model registered as ``name`` in :data:`MODELS` with ``kwargs``."""
    return MODELS.build(name, **kwargs)
