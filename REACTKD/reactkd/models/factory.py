"""Build the grading networks from specs, mappings or keys; the student shares the teacher's CBAM3D."""

from __future__ import annotations

import torch.nn as nn

from reactkd.models.spec import StudentSpec, TeacherSpec, sharing_teacher, student_spec
from reactkd.models.student import Student
from reactkd.models.teacher import Teacher

__all__ = ["build_teacher", "build_student"]


def build_teacher(spec: TeacherSpec | dict | None = None, **keys) -> Teacher:
    """``Teacher`` from a spec, a mapping, or keys (``build_teacher(feature_size=12, branches=["pet_ct"])``)."""
    return Teacher(spec, **keys)


def build_student(teacher: Teacher | None = None, spec: StudentSpec | dict | None = None, cbam: nn.Module | None = None,
                  **keys) -> Student:
    """``Student`` from a spec, a mapping or keys, sharing ``teacher.cbam`` (or the ``cbam`` module given);
    without either it owns the attention its spec describes. A mapping or keys take the teacher's
    ``fusion_channels`` and ``cbam`` where they give none (:func:`~reactkd.models.spec.sharing_teacher`).

    Raises:
        ValueError: if both ``teacher`` and ``cbam`` are given.
    """
    if teacher is not None and cbam is not None:
        raise ValueError("pass either `teacher` (to share its CBAM3D) or `cbam`, not both.")
    spec = spec if spec is not None else keys
    if teacher is not None:
        spec = spec if isinstance(spec, StudentSpec) else sharing_teacher(spec, teacher.spec)
        cbam = teacher.cbam
    return Student(student_spec(spec), cbam=cbam)
