"""Turning config strings into enum members with an error that lists the allowed values."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

__all__ = ["parse_enum"]

E = TypeVar("E", bound=Enum)


def parse_enum(enum: type[E], value: object, name: str) -> E:
    """``enum(value)``, or a ``ValueError`` naming ``name``, the value and the allowed values."""
    try:
        return enum(value)
    except ValueError:
        allowed = [m.value for m in enum]
        raise ValueError(f"`{name}` must be one of {allowed}, got {value!r}.") from None
