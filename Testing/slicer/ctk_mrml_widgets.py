"""Stand-in CTK widgets (collapsible button, path line edit, slider) and Slicer's MRML widgets (node combo
box, ``qMRMLWidget``): each keeps its state and emits its signals when that state changes.
"""

from __future__ import annotations

from widget_base import Widget

__all__ = ["ctkCollapsibleButton", "ctkPathLineEdit", "ctkSliderWidget", "qMRMLNodeComboBox", "qMRMLWidget"]


class ctkCollapsibleButton(Widget):
    collapsed = False


class ctkPathLineEdit(Widget):
    SIGNALS = ("currentPathChanged",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = ""

    @property
    def currentPath(self):
        return self._path

    @currentPath.setter
    def currentPath(self, value):
        if str(value) != self._path:
            self._path = str(value)
            self.currentPathChanged.emit(self._path)


class ctkSliderWidget(Widget):
    SIGNALS = ("valueChanged",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._value, self.minimum, self.maximum, self.singleStep, self.decimals = 0.0, 0.0, 99.0, 1.0, 2

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, v):
        if float(v) != self._value:
            self._value = float(v)
            self.valueChanged.emit(self._value)


class _ProxyModel:
    def __init__(self):
        self.hiddenNodeIDs: list[str] = []


class qMRMLNodeComboBox(Widget):
    SIGNALS = ("currentNodeChanged", "currentNodeIDChanged")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._node = None
        self.nodeTypes = []
        self._proxy = _ProxyModel()

    def currentNode(self):
        return self._node

    def setCurrentNode(self, node):
        if node is not self._node:
            self._node = node
            self.currentNodeChanged.emit(node)

    def sortFilterProxyModel(self):
        return self._proxy


class qMRMLWidget(Widget):
    SIGNALS = ("mrmlSceneChanged",)
