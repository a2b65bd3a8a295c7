"""The typed ``distiller`` section of an experiment config."""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field

from reactkd.distill.registry import DISTILLERS
from reactkd.utils.typed import ConfigError

__all__ = ["DistillerSpec", "accepted_kwargs"]


def accepted_kwargs(name: str) -> set[str]:
    """Keyword arguments the distiller registered as ``name`` takes (its class and every base class),
    apart from the student and teacher themselves and those the class declares ``unused_kwargs`` (base
    options it has no use for, e.g. the KD weight of the student trained alone)."""
    cls = DISTILLERS.get(name)
    accepted: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters.values()
            accepted |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return accepted - {"self", "student", "teacher", "teachers"} - set(getattr(cls, "unused_kwargs", ()))


@dataclass
class DistillerSpec:
    """Attributes:
        name: a registered distiller key (``reactkd``, ``kd``, ``at`` …). Default ``reactkd``.
        kwargs: the distiller's own options (weights, temperature, levels); unknown ones are refused.
        teachers: the distiller's own teachers, each an edit of ``teacher`` (e.g. ``[{branches: [pet_ct]},
            {branches: [dose]}]`` for the multi-teacher methods); None: it learns from ``teacher``.
    """

    name: str = "reactkd"
    kwargs: dict = field(default_factory=dict)
    teachers: list[dict] | None = None

    def __post_init__(self) -> None:
        if self.name not in DISTILLERS:
            close = difflib.get_close_matches(self.name, DISTILLERS.keys(), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"`distiller.name` must be one of {DISTILLERS.keys()}, got {self.name!r}.{hint}")
        allowed = accepted_kwargs(self.name)
        for key in self.kwargs:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" Did you mean `distiller.kwargs.{close[0]}`?" if close else ""
                raise ConfigError(f"unknown config key `distiller.kwargs.{key}` for distiller {self.name!r}; "
                                  f"allowed: {sorted(allowed)}.{hint}")
        if self.teachers is not None and (not self.teachers or not all(isinstance(t, dict) for t in self.teachers)):
            raise ConfigError(f"`distiller.teachers` must be a non-empty list of mappings, each editing `teacher` "
                              f"(e.g. [{{branches: [pet_ct]}}, {{branches: [dose]}}]), got {self.teachers!r}.")
