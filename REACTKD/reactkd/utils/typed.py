"""Typed, validated records from plain mappings (YAML): the machinery behind every config and spec.

A record is a dataclass whose field annotations say what a value may be (bool, int, float, str, an enum,
a list or tuple of those, a nested record, a :class:`Tagged` union of records, or ``X | None``).
:func:`from_dict` builds one from a mapping, refusing unknown keys with the closest allowed key and wrong
types with the key path; :func:`to_dict` gives the plain, YAML-safe mapping back (enums as their values).
A record checks its own value ranges in ``__post_init__`` and raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from typing import Any, ClassVar

__all__ = ["ConfigError", "Tagged", "from_dict", "to_dict", "require"]


class ConfigError(ValueError):
    """A config value or key that is not allowed; the message names the key path."""


def require(ok: bool, key: str, value: Any, rule: str) -> None:
    """Raise :class:`ConfigError` ``"`key` must be <rule>, got <value>."`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"`{key}` must be {rule}, got {value!r}.")


class Tagged:
    """Base of a typed union of records told apart by one key, :attr:`TAG_KEY` (``kind``).

    A union is a class deriving from :class:`Tagged` without a tag; each member is a dataclass deriving
    from it with one (``class RegionHeadSpec(HeadSpec, tag="region")``) and holds only its own fields. A
    field annotated with the union takes a mapping whose ``kind`` picks the member; a key that member does
    not have is refused naming the key and the kind. :func:`to_dict` writes ``kind`` first. A second
    member under one tag raises at class creation.

    Example: with ``class Shape(Tagged)`` and ``@dataclass class Ball(Shape, tag="ball"): radius: float = 1``,
    a record field ``shape: Shape`` reads ``{kind: ball, radius: 2}`` as ``Ball(radius=2.0)`` and refuses
    ``{kind: ball, side: 2}`` with ``unknown config key `shape.side` for `kind: ball` …``.
    """

    TAG_KEY: ClassVar[str] = "kind"
    tag: ClassVar[str] = ""
    _members: ClassVar[dict[str, type]]

    def __init_subclass__(cls, tag: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if tag is None:
            if "_members" not in cls.__dict__ and not any("_members" in vars(b) for b in cls.__mro__[1:-1]):
                cls._members = {}  # a new union
            return
        union = next(b for b in cls.__mro__[1:] if "_members" in vars(b))
        if tag in union._members:
            raise ValueError(f"{union.__name__} {tag!r} is already defined by {union._members[tag].__name__}.")
        cls.tag = tag
        union._members[tag] = cls

    @property
    def kind(self) -> str:
        """The member's tag (``gap``, ``region`` …)."""
        return self.tag

    @classmethod
    def members(cls) -> dict[str, type]:
        """Tag → member class of the union ``cls`` belongs to."""
        return dict(cls._members)


def _is_union(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Tagged) and "_members" in vars(annotation)


def _convert_tagged(value: Any, union: type, path: str) -> Any:
    """A mapping ``{kind: <tag>, ...}`` → that member of ``union`` (a member instance passes through)."""
    if isinstance(value, union):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"`{path}` must be a mapping with `{union.TAG_KEY}`, got {type(value).__name__}: {value!r}.")
    members = union.members()
    tag = value.get(union.TAG_KEY)
    if tag not in members:
        got = "none" if union.TAG_KEY not in value else repr(tag)
        raise ConfigError(f"`{path}.{union.TAG_KEY}` must be one of {sorted(members)}, got {got}.")
    member = members[tag]
    known = [f.name for f in dataclasses.fields(member)]
    for key in value:
        if key != union.TAG_KEY and key not in known:
            elsewhere = sorted(t for t, m in members.items() if key in {f.name for f in dataclasses.fields(m)})
            hint = f" (a key of {', '.join(f'`{union.TAG_KEY}: {t}`' for t in elsewhere)})" if elsewhere else ""
            raise ConfigError(f"unknown config key `{path}.{key}` for `{union.TAG_KEY}: {tag}`{hint}; "
                              f"allowed: {[union.TAG_KEY, *known]}.")
    return from_dict(member, {k: v for k, v in value.items() if k != union.TAG_KEY}, path)


def _convert(value: Any, annotation: Any, path: str) -> Any:
    origin = typing.get_origin(annotation)
    if _is_union(annotation):
        return _convert_tagged(value, annotation, path)
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
    if annotation in (bool, int, float, str):
        return _convert_scalar(value, annotation, path)
    if origin in (list, tuple) or annotation is dict or origin is dict:
        return _convert_container(value, annotation, origin, path)
    return value


def _convert_scalar(value: Any, annotation: type, path: str) -> Any:
    """``value`` checked as a ``bool``, ``int``, ``float`` (an int is widened) or ``str``; a bool is not a number."""
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
    if not isinstance(value, str):
        raise ConfigError(f"`{path}` must be a string, got {value!r}.")
    return value


def _convert_container(value: Any, annotation: Any, origin: Any, path: str) -> Any:
    """``value`` checked as a ``list``/``tuple`` (items converted one by one) or a ``dict`` (copied)."""
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"`{path}` must be a list, got {value!r}.")
        args = typing.get_args(annotation)
        inner = args[0] if args else Any
        items = [_convert(v, inner, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if not isinstance(value, dict):
        raise ConfigError(f"`{path}` must be a mapping, got {value!r}.")
    return dict(value)


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
        tag = {obj.TAG_KEY: obj.tag} if isinstance(obj, Tagged) else {}
        return {**tag, **{f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
