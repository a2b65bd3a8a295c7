"""Build the grading networks from specs, mappings or keys; the student shares the teacher's CBAM3D."""

from __future__ import annotations

from reactkd.models.cbam import CBAM3D
from reactkd.models.spec import StudentSpec, TeacherSpec, student_spec
from reactkd.models.student import Student
from reactkd.models.teacher import Teacher

__all__ = ["build_teacher", "build_student"]


def build_teacher(spec: TeacherSpec | dict | None = None, **keys) -> Teacher:
    """``Teacher`` from a spec, a mapping, or keys (``build_teacher(feature_size=12, branches=["pet_ct"])``)."""
    return Teacher(spec, **keys)


def build_student(teacher: Teacher | None = None, spec: StudentSpec | dict | None = None, cbam: CBAM3D | None = None,
                  **keys) -> Student:
    """``Student`` from a spec, a mapping or keys, sharing ``teacher.cbam`` unless the spec names an own
    ``cbam`` (or ``cbam`` passes another module to share).

    Raises:
        ValueError: if both ``teacher`` and ``cbam`` are given.
    """
    if teacher is not None and cbam is not None:
        raise ValueError("pass either `teacher` (to share its CBAM3D) or `cbam`, not both.")
    spec = student_spec(spec if spec is not None else keys)
    if cbam is None and teacher is not None and spec.cbam is None:
        cbam = teacher.cbam
    return Student(spec, cbam=cbam)
