"""A stand-in for what the module files use of ``slicer.app``."""

from __future__ import annotations

import types

from qt_services import QTimer

__all__ = ["StandInApp"]


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
