"""A name → constructor table that config files resolve keys through."""

from __future__ import annotations

import difflib
from typing import Any, Callable, Iterator, TypeVar

__all__ = ["Registry"]

T = TypeVar("T", bound=Callable[..., Any])


class Registry:
    """Keyed table of constructors filled by a decorator.

    Unlike torchdistill's registries, a second registration under the same key raises instead of
    silently replacing the first (two files defining one method would otherwise depend on import order),
    and an unknown key lists the available ones and the closest match.

    Args:
        kind: what the table holds, used in error messages (e.g. ``"distiller"``).

    Example:
        >>> MODELS = Registry("model")
        >>> @MODELS.register(key="tiny")
        ... class Tiny: ...
        >>> MODELS.get("tiny").__name__
        'Tiny'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._table: dict[str, Callable[..., Any]] = {}

    def register(self, obj: T | None = None, *, key: str | None = None) -> Any:
        """Register ``obj`` under ``key`` (default: its ``__name__``); usable bare, with ``()`` or ``key=``.

        Raises:
            ValueError: if the key is already taken.
        """

        def _add(target: T) -> T:
            name = key if key is not None else target.__name__
            if name in self._table:
                raise ValueError(
                    f"{self.kind} key {name!r} is already registered to {self._table[name]!r}; "
                    f"pick another `key`."
                )
            self._table[name] = target
            return target

        return _add(obj) if obj is not None else _add

    def get(self, name: str) -> Callable[..., Any]:
        """Return the constructor registered as ``name``.

        Raises:
            ValueError: for an unknown name; the message lists the available keys.
        """
        if name not in self._table:
            close = difflib.get_close_matches(str(name), self._table, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}; available: {sorted(self._table)}.{hint}")
        return self._table[name]

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Look up ``name`` and call it with the given arguments."""
        return self.get(name)(*args, **kwargs)

    def keys(self) -> list[str]:
        return sorted(self._table)

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._table))

    def __len__(self) -> int:
        return len(self._table)
