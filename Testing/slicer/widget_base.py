"""The base of the stand-in Qt/CTK widgets: :class:`Signal` (records connections, calls its slots with as
many arguments as each takes, as PythonQt does) and :class:`Widget` (a name, properties, children and the
state every widget has), so a module's widget can run in pytest without Qt.
"""

from __future__ import annotations

import inspect

__all__ = ["Signal", "Widget"]


class Signal:
    """A Qt signal: ``connect``/``disconnect`` slots; ``emit`` calls each with as many of the signal's
    arguments as it takes (PythonQt does the same)."""

    def __init__(self, name: str = ""):
        self.name = name
        self.slots: list = []
        self.emitted: list[tuple] = []

    def connect(self, slot) -> None:
        self.slots.append(slot)

    def disconnect(self, slot) -> None:
        if slot in self.slots:
            self.slots.remove(slot)

    def emit(self, *args) -> None:
        self.emitted.append(args)
        for slot in list(self.slots):
            slot(*args[: _arity(slot, len(args))])


def _arity(slot, available: int) -> int:
    try:
        params = inspect.signature(slot).parameters.values()
    except (TypeError, ValueError):
        return available
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return available
    return min(available, sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params))


class Widget:
    """Base stand-in widget: a name, properties (``property``/``setProperty``), children, common state."""

    SIGNALS: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        self.args = args
        self.name = ""
        self.enabled = True
        self.visible = True
        self.toolTip = ""
        self.styleSheet = ""
        self.text = ""
        self._props: dict = {}
        self._children: list = []
        self._parent = None
        self.scene = None
        for name in self.SIGNALS:
            setattr(self, name, Signal(name))

    # Qt-like API
    def property(self, name):
        return self._props.get(name)

    def setProperty(self, name, value):
        self._props[name] = value

    def children(self):
        return list(self._children)

    def parent(self):
        return self._parent

    def add_child(self, child) -> None:
        child._parent = self
        self._children.append(child)

    def connect(self, signature: str, slot) -> None:
        getattr(self, signature.split("(")[0]).connect(slot)

    def setMRMLScene(self, scene) -> None:
        self.scene = scene

    def layout(self):
        return _Layout(self)

    def setLayout(self, layout):
        pass

    def setEnabled(self, value):
        self.enabled = bool(value)

    def setVisible(self, value):
        self.visible = bool(value)

    def setToolTip(self, text):
        self.toolTip = text


class _Layout:
    def __init__(self, owner):
        self.owner = owner

    def addWidget(self, widget, *args):
        self.owner.add_child(widget)

    def addStretch(self, *args):
        pass
