"""Typed, validated records from plain mappings (YAML): the machinery behind every config and spec.

A record is a dataclass whose field annotations say what a value may be (bool, int, float, str, an enum,
a list or tuple of those, a nested record, or ``X | None``). :func:`from_dict` builds one from a mapping,
refusing unknown keys with the closest allowed key and wrong types with the key path; :func:`to_dict`
gives the plain, YAML-safe mapping back (enums as their values). A record checks its own value ranges in
``__post_init__`` and raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from typing import Any

__all__ = ["ConfigError", "from_dict", "to_dict", "require"]


class ConfigError(ValueError):
    """A config value or key that is not allowed; the message names the key path."""


def require(ok: bool, key: str, value: Any, rule: str) -> None:
    """Raise :class:`ConfigError` ``"`key` must be <rule>, got <value>."`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"`{key}` must be {rule}, got {value!r}.")


def _convert(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"`{path}` must be a mapping, got {type(value).__name__}: {value!r}.")
        return from_dict(annotation, value, path)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, path)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            allowed = [m.value for m in annotation]
            raise ConfigError(f"`{path}` must be one of {allowed}, got {value!r}.") from None
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"`{path}` must be true or false, got {value!r}.")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"`{path}` must be an integer, got {value!r}.")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"`{path}` must be a number, got {value!r}.")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"`{path}` must be a string, got {value!r}.")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"`{path}` must be a list, got {value!r}.")
        args = typing.get_args(annotation)
        inner = args[0] if args else Any
        items = [_convert(v, inner, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if annotation is dict or origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"`{path}` must be a mapping, got {value!r}.")
        return dict(value)
    return value


def from_dict(cls: type, data: dict, path: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, refusing unknown keys (with the closest allowed key).

    Raises:
        ConfigError: an unknown key, a wrong type, or what the record's own checks refuse; the message
            names the key path (``teacher.head.kind``).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"`{path or cls.__name__}` must be a mapping, got {type(data).__name__}: {data!r}.")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else key
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" Did you mean `{(path + '.' if path else '') + close[0]}`?" if close else ""
            raise ConfigError(f"unknown config key `{full}`; allowed here: {known}.{hint}")
        kwargs[key] = _convert(value, hints[key], full)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(_within(str(err), path, known)) from None


def _within(message: str, path: str, fields: list[str]) -> str:
    """A record's own error (``"`sources` must be …"``) with its key given the full path (``student.head.sources``)."""
    if not path:
        return message
    if message.startswith("`"):
        key = message[1:message.index("`", 1)]
        if key.split(".")[0].split("/")[0] in fields:
            return f"`{path}.{key}`" + message[len(key) + 2:]
    if message.startswith(f"`{path}") or message.startswith("unknown config key"):
        return message
    return f"`{path}`: {message}"


def to_dict(obj: Any) -> Any:
    """A plain, YAML-safe dict of a record (enums as their values, tuples as lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
