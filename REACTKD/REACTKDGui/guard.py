"""A flag shared by the panels of one widget while they write to their own widgets or to the parameter
node, so that the signals this fires are not taken for the user's."""

from __future__ import annotations

__all__ = ["UpdateGuard"]


class UpdateGuard:
    """``with guard: …`` while the panel updates itself; ``if guard: return`` in a slot. Nests."""

    def __init__(self):
        self._depth = 0

    def __enter__(self) -> UpdateGuard:
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1

    def __bool__(self) -> bool:
        return self._depth > 0
