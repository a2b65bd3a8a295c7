"""Slicer's own code from ``../shared/slicer/`` (see its README) for the tests: where it is, and the few
stand-ins a module file needs to import without the Slicer application.

Real: ``slicer.ScriptedLoadableModule``, ``slicer.parameterNodeWrapper`` and ``slicer.i18n`` (Slicer's
Python, grafted onto slicer-core's ``slicer`` package), MRML (slicer-core). Stand-ins, written here: ``qt``
and ``ctk`` (every attribute is an empty class, so ``class X(qt.QColor)`` and ``isinstance`` checks work),
the ``qMRML*`` widget classes, a ``slicer.app`` that records the signals a module connects to
(:class:`standin_app.StandInApp`), and ``slicer.mrmlScene`` is the test's scene. :mod:`widget_env` adds
working widgets built from the ``.ui`` files, for the module widgets.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "slicer"
SLICER_PYTHON = SHARED / "python" / "slicer"
SLICER_SRC = SHARED / "slicer-src"
PACKAGER = SLICER_SRC / "Utilities" / "Scripts" / "package_python_extension.py"
EXTENSIONS_INDEX = SHARED / "extensions-index"
QT_WIDGETS = ("qMRMLSpinBox", "qMRMLSliderWidget", "qMRMLRangeWidget", "qMRMLNodeComboBox",
              "qMRMLSubjectHierarchyComboBox", "qMRMLSegmentSelectorWidget", "qSlicerWidget", "qMRMLWidget")


def missing(path: Path) -> str | None:
    """The skip reason when a part of Slicer's code is not beside the project, else None."""
    return None if path.exists() else f"Slicer's own code is not at {path} (see ../shared/slicer/README.md)"


class QtStandIn(types.ModuleType):
    """A stand-in for ``qt``/``ctk``: each attribute is an empty class made on first use. Constructor
    arguments are kept in ``args`` (e.g. the path a ``qt.QIcon`` was made from)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def __init__(obj, *args, **kwargs):
            obj.args = args

        cls = type(name, (), {"__init__": __init__})
        setattr(self, name, cls)
        return cls


def install_slicer_python(slicer) -> dict:
    """Put Slicer's Python and the stand-ins in place; returns what :func:`uninstall` restores."""
    from standin_app import StandInApp

    saved = {"modules": {n: sys.modules.get(n) for n in ("qt", "ctk")}, "path": list(slicer.__path__),
             "attrs": {n: getattr(slicer, n, None) for n in (*QT_WIDGETS, "mrmlScene", "app")}}
    sys.modules["qt"], sys.modules["ctk"] = QtStandIn("qt"), QtStandIn("ctk")
    for name in QT_WIDGETS:
        setattr(slicer, name, type(name, (), {}))
    slicer.app = StandInApp(lambda: slicer.mrmlScene)
    if str(SLICER_PYTHON) not in slicer.__path__:
        slicer.__path__.append(str(SLICER_PYTHON))
    return saved


def uninstall(slicer, saved: dict) -> None:
    # REACTKDGui imports qt/ctk: it is imported afresh with the next stand-ins
    for name in [n for n in sys.modules if n.split(".")[0] in ("qt", "ctk", "REACTKD", "REACTKDTrainer", "REACTKDGui")
                 or n.startswith(("slicer.ScriptedLoadableModule", "slicer.parameterNodeWrapper", "slicer.i18n"))]:
        del sys.modules[name]
    for name, module in saved["modules"].items():
        if module is not None:
            sys.modules[name] = module
    slicer.__path__[:] = saved["path"]
    for name, value in saved["attrs"].items():
        if value is None:
            if hasattr(slicer, name):
                delattr(slicer, name)
        else:
            setattr(slicer, name, value)


def import_module_file(path: Path):
    """Import a scripted module file as Slicer does (by file, under its own name)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def module_parent(path: Path) -> types.SimpleNamespace:
    """What Slicer hands a module's ``__init__`` (``qSlicerScriptedLoadableModule``): its file path."""
    return types.SimpleNamespace(path=str(path))
