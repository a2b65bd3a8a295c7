"""Stand-ins for the Qt services a module uses besides widgets: timers, settings, file dialogs and the
``Qt``/``QAbstractItemView`` enums. Their state is shared per test session; :func:`reset` clears it.

Timers do not run by themselves: :func:`tick` fires every active ``QTimer`` once and runs pending
``QTimer.singleShot`` calls, which is what Slicer's event loop does between user actions.
"""

from __future__ import annotations

from widget_base import Signal

__all__ = ["QTimer", "QSettings", "QFileDialog", "Qt", "QAbstractItemView", "tick", "reset"]


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
