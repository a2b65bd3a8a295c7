"""Stand-in Qt widgets (labels, buttons, check boxes, combo boxes, list and table widgets, progress bar,
plain-text edit): each keeps its state and emits its signals when that state changes, as Qt would.
"""

from __future__ import annotations

from widget_base import Widget

__all__ = ["QWidget", "QLabel", "QPushButton", "QCheckBox", "QComboBox", "QListWidgetItem", "QListWidget",
           "QTableWidgetItem", "QTableWidget", "QProgressBar", "QPlainTextEdit"]


class QWidget(Widget):
    pass


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
