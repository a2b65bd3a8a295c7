"""Stand-in Qt/CTK widgets that behave enough like PythonQt's for a module's widget to run in pytest: each
keeps its state (text, enabled, items, check states, current node…) and its signals record connections
and call their slots when the state changes, as Qt would. The widgets are built from the module's own
``.ui`` file (:func:`load_ui`), so a name the module uses that the ``.ui`` lacks fails.

Timers do not run by themselves: :func:`tick` fires every active ``QTimer`` once and runs pending
``QTimer.singleShot`` calls, which is what Slicer's event loop does between user actions.
"""

from __future__ import annotations

import inspect
import types
import xml.etree.ElementTree as ET
from pathlib import Path

__all__ = ["Signal", "install_widgets", "load_ui", "tick", "StandInApp", "QSettings", "QFileDialog", "reset"]


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


class QWidget(Widget):
    pass


class qMRMLWidget(Widget):
    SIGNALS = ("mrmlSceneChanged",)


class QLabel(Widget):
    wordWrap = False


class QPushButton(Widget):
    SIGNALS = ("clicked", "toggled")
    checkable = False

    def click(self):
        if self.enabled:
            self.clicked.emit(False)


class QCheckBox(Widget):
    SIGNALS = ("stateChanged", "toggled")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._checked = False

    @property
    def checked(self):
        return self._checked

    @checked.setter
    def checked(self, value):
        if bool(value) != self._checked:
            self._checked = bool(value)
            self.stateChanged.emit(2 if self._checked else 0)
            self.toggled.emit(self._checked)


class QComboBox(Widget):
    SIGNALS = ("currentIndexChanged", "currentTextChanged")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.items: list[tuple[str, object]] = []
        self._index = -1

    def addItem(self, text, data=None):
        self.items.append((str(text), data))
        if self._index < 0:
            self.currentIndex = 0

    def clear(self):
        self.items = []
        self.currentIndex = -1

    @property
    def count(self):
        return len(self.items)

    @property
    def currentIndex(self):
        return self._index

    @currentIndex.setter
    def currentIndex(self, index):
        index = int(index) if -1 <= int(index) < len(self.items) else -1
        if index != self._index:
            self._index = index
            self.currentIndexChanged.emit(index)

    def setCurrentIndex(self, index):
        self.currentIndex = index

    @property
    def currentData(self):
        return self.items[self._index][1] if self._index >= 0 else None

    @property
    def currentText(self):
        return self.items[self._index][0] if self._index >= 0 else ""

    def itemText(self, index):
        return self.items[index][0]

    def findText(self, text):
        return next((i for i, (t, _) in enumerate(self.items) if t == text), -1)


class QListWidgetItem:
    def __init__(self, text=""):
        self.text = text
        self._data: dict = {}
        self._flags = 0
        self._check = 0
        self.list_widget = None

    def setData(self, role, value):
        self._data[role] = value

    def data(self, role):
        return self._data.get(role)

    def flags(self):
        return self._flags

    def setFlags(self, flags):
        self._flags = flags

    def checkState(self):
        return self._check

    def setCheckState(self, state):
        self._check = state
        if self.list_widget is not None:
            self.list_widget.itemChanged.emit(self)


class QListWidget(Widget):
    SIGNALS = ("itemChanged",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._items: list[QListWidgetItem] = []

    def addItem(self, item):
        item.list_widget = self
        self._items.append(item)

    def item(self, i):
        return self._items[i]

    @property
    def count(self):
        return len(self._items)

    def clear(self):
        for item in self._items:
            item.list_widget = None
        self._items = []


class QTableWidgetItem:
    def __init__(self, text=""):
        self.text = str(text)


class QTableWidget(Widget):
    SIGNALS = ("itemSelectionChanged", "cellClicked")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns: list[str] = []
        self.cells: dict = {}
        self._rows = 0
        self._current = -1

    def setColumnCount(self, n):
        self.columns = self.columns[:n] + [""] * max(0, n - len(self.columns))

    def setHorizontalHeaderLabels(self, labels):
        self.columns = list(labels)

    def setSelectionBehavior(self, value):
        pass

    def setSelectionMode(self, value):
        pass

    def setEditTriggers(self, value):
        pass

    def clearContents(self):
        self.cells = {}
        if self._current != -1:
            self._current = -1
            self.itemSelectionChanged.emit()

    def setRowCount(self, n):
        self._rows = n

    @property
    def rowCount(self):
        return self._rows

    def setItem(self, row, column, item):
        self.cells[(row, column)] = item

    def item(self, row, column):
        return self.cells.get((row, column))

    def selectRow(self, row):
        self._current = row
        self.itemSelectionChanged.emit()

    def currentRow(self):
        return self._current


class QProgressBar(Widget):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.minimum, self.maximum, self.value, self.format = 0, 100, 0, ""

    def setRange(self, lo, hi):
        self.minimum, self.maximum = lo, hi

    def setValue(self, value):
        self.value = value

    def setFormat(self, text):
        self.format = text


class QPlainTextEdit(Widget):
    readOnly = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lines: list[str] = []

    def appendPlainText(self, text):
        self.lines.append(str(text))

    def toPlainText(self):
        return "\n".join(self.lines)


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


class QTimer:
    """Fires only through :func:`tick` (all active timers once) — the test decides when time passes."""

    active: list = []
    pending: list = []

    def __init__(self, *args):
        self.timeout = Signal("timeout")
        self.interval = 0

    def connect(self, signature, slot):
        self.timeout.connect(slot)

    def setInterval(self, ms):
        self.interval = ms

    def start(self, *args):
        if self not in QTimer.active:
            QTimer.active.append(self)

    def stop(self):
        if self in QTimer.active:
            QTimer.active.remove(self)

    def isActive(self):
        return self in QTimer.active

    @staticmethod
    def singleShot(ms, slot):
        QTimer.pending.append(slot)


class QSettings:
    """Slicer's settings, one store per test session (:func:`reset` clears it)."""

    store: dict = {}

    def value(self, key, default=None):
        return QSettings.store.get(key, default)

    def setValue(self, key, value):
        QSettings.store[key] = list(value) if isinstance(value, (list, tuple)) else value

    def contains(self, key):
        return key in QSettings.store

    def remove(self, key):
        QSettings.store.pop(key, None)


class QFileDialog:
    """``getExistingDirectory``/``getOpenFileName`` answer what the test put in ``answers`` (first in first out)."""

    answers: list = []
    asked: list = []

    @staticmethod
    def getExistingDirectory(*args):
        QFileDialog.asked.append(args)
        return QFileDialog.answers.pop(0) if QFileDialog.answers else ""

    @staticmethod
    def getOpenFileName(*args):
        QFileDialog.asked.append(args)
        return QFileDialog.answers.pop(0) if QFileDialog.answers else ""


class Qt:
    UserRole = 256
    Unchecked, PartiallyChecked, Checked = 0, 1, 2
    ItemIsUserCheckable = 16
    WaitCursor = 3


class QAbstractItemView:
    SelectRows, SingleSelection, NoEditTriggers = 1, 1, 0


def tick(times: int = 1) -> None:
    """Let time pass: run pending single shots, then fire every active timer once (``times`` rounds)."""
    for _ in range(times):
        while QTimer.pending:
            QTimer.pending.pop(0)()
        for timer in list(QTimer.active):
            if timer in QTimer.active:
                timer.timeout.emit()


def reset() -> None:
    QTimer.active.clear()
    QTimer.pending.clear()
    QSettings.store.clear()
    QFileDialog.answers.clear()
    QFileDialog.asked.clear()


QT_CLASSES = {c.__name__: c for c in (QWidget, QLabel, QPushButton, QCheckBox, QComboBox, QListWidget, QListWidgetItem,
                                      QTableWidget, QTableWidgetItem, QProgressBar, QPlainTextEdit, QTimer, QSettings,
                                      QFileDialog, QAbstractItemView)}
QT_CLASSES["Qt"] = Qt
CTK_CLASSES = {c.__name__: c for c in (ctkCollapsibleButton, ctkPathLineEdit, ctkSliderWidget)}
SLICER_CLASSES = {c.__name__: c for c in (qMRMLNodeComboBox, qMRMLWidget)}


def install_widgets(qt_module, ctk_module, slicer_module) -> None:
    """Put the working stand-ins into the ``qt``/``ctk`` stand-in modules and onto ``slicer``."""
    for name, cls in QT_CLASSES.items():
        setattr(qt_module, name, cls)
    for name, cls in CTK_CLASSES.items():
        setattr(ctk_module, name, cls)
    for name, cls in SLICER_CLASSES.items():
        setattr(slicer_module, name, cls)


def _value(prop):
    child = list(prop)[0]
    tag, text = child.tag, (child.text or "")
    if tag == "bool":
        return text == "true"
    if tag == "double":
        return float(text)
    if tag == "number":
        return int(text)
    if tag == "stringlist":
        return [s.text or "" for s in child.findall("string")]
    return text


def load_ui(path, qt_module, ctk_module, slicer_module):
    """The widget tree of a ``.ui`` file made of stand-ins (``class`` looked up on slicer/ctk/qt);
    properties set as attributes (``SlicerParameterName`` and other dynamic ones via ``setProperty``)."""
    root = ET.parse(Path(path)).getroot().find("widget")

    def make(element):
        cls_name = element.get("class")
        module = (slicer_module if cls_name.startswith("qMRML")
                  else ctk_module if cls_name.startswith("ctk") else qt_module)
        widget = getattr(module, cls_name)()
        widget.name = element.get("name")
        for prop in element.findall("property"):
            name, value = prop.get("name"), _value(prop)
            if prop.get("stdset") == "0":
                widget.setProperty(name, value)
            else:
                try:
                    setattr(widget, name, value)
                except AttributeError:  # a read-only stand-in property (e.g. a count)
                    pass
        for child in _child_widgets(element):
            widget.add_child(make(child))
        return widget

    return make(root)


def _child_widgets(element):
    """Widgets directly under ``element``, looking through layouts and their items."""
    out = []
    for child in element:
        if child.tag == "widget":
            out.append(child)
        elif child.tag in ("layout", "item"):
            out += _child_widgets(child)
    return out


class StandInApp:
    """What the module files use of ``slicer.app``: signal connections, the application logic (selection
    node in the test's scene), a version, and processEvents (runs pending single shots)."""

    applicationVersion = "5.10.0"

    def __init__(self, scene_getter):
        self.connections: list[tuple[str, object]] = []
        self._scene = scene_getter
        self.propagated = 0

    def connect(self, signature, slot):
        self.connections.append((signature, slot))

    def moduleManager(self):
        return types.SimpleNamespace(connect=lambda *a: None, disconnect=lambda *a: None)

    def processEvents(self, *args):
        while QTimer.pending:
            QTimer.pending.pop(0)()

    def testingEnabled(self):
        return True

    @staticmethod
    def translate(context, text):
        return text

    def setOverrideCursor(self, *args):
        pass

    def restoreOverrideCursor(self):
        pass

    def applicationLogic(self):
        app = self

        class Logic:
            def GetSelectionNode(self):
                scene = app._scene()
                node = scene.GetSingletonNode("Singleton", "vtkMRMLSelectionNode")
                if node is None:
                    node = scene.AddNewNodeByClass("vtkMRMLSelectionNode")
                    node.SetSingletonTag("Singleton")
                return node

            def PropagateTableSelection(self):
                app.propagated += 1

        return Logic()

    def emit(self, signature):
        """Emit one of the application's signals (``aboutToQuit()``, ``startupCompleted()``)."""
        for sig, slot in list(self.connections):
            if sig == signature:
                slot()
