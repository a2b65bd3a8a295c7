"""The module files' widgets in pytest: Slicer's real ``ScriptedLoadableModule``, ``parameterNodeWrapper``
and ``slicer.util`` (slicer-core's copy of Slicer's) on real MRML, with the stand-in Qt/CTK widgets of
:mod:`qt_widgets` and :mod:`ctk_mrml_widgets` built from the modules' ``.ui`` files by :mod:`ui_loader`, and
a stand-in ``slicer.app`` whose module manager hands out scripted modules the way Slicer's does:
``widgetRepresentation()`` makes the module file's ``<Name>Widget`` (with ``setup()``) or nothing, so
``slicer.util.getModuleLogic`` runs its real code.

What stays Slicer-only: real Qt event delivery and painting, ``.ui`` loading by Qt's ``QUiLoader``, views.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import qt_services
from ctk_mrml_widgets import qMRMLWidget
from slicer_code import ROOT, import_module_file, install_slicer_python, uninstall
from standin_app import StandInApp
from ui_loader import install_widgets, load_ui

__all__ = ["WidgetEnvironment", "SampleDataLogic"]

MODULES = {"REACTKD": ROOT / "REACTKD" / "REACTKD.py", "REACTKDTrainer": ROOT / "REACTKDTrainer" / "REACTKDTrainer.py"}


class _ScriptedModule:
    """``qSlicerScriptedLoadableModule`` for one module file."""

    def __init__(self, env, name: str):
        self.env, self.name, self.path = env, name, str(MODULES.get(name, ""))
        self._widget = None

    def widgetRepresentation(self):
        if self._widget is None:
            cls = getattr(self.env.modules[self.name], f"{self.name}Widget", None)
            if cls is None:
                return None
            representation = self.env.slicer.qSlicerScriptedLoadableModuleWidget()
            representation.isEntered = True  # the module is the one shown
            python_widget = cls(representation)
            representation.self = lambda: python_widget
            python_widget.setup()
            self._widget = representation
        return self._widget


class SampleDataLogic:
    """Slicer's ``SampleData.SampleDataLogic`` as far as REACTKD uses it: sources registered by category;
    ``downloadSamples`` copies each ``file://`` URI into a cache folder, checks its ``SHA256:`` checksum as
    Slicer does, and loads it with the storage node of its ``loadFileType``, named after ``nodeNames``."""

    sources: dict = {}
    cache: Path | None = None

    @staticmethod
    def registerCustomSampleDataSource(category="Custom", sampleName=None, uris=None, fileNames=None, nodeNames=None,
                                       customDownloader=None, thumbnailFileName=None, loadFileType="VolumeFile",
                                       loadFiles=None, loadFileProperties=None, checksums=None):
        SampleDataLogic.sources[sampleName] = dict(category=category, uris=uris, fileNames=fileNames,
                                                   nodeNames=nodeNames, loadFileType=loadFileType, checksums=checksums)

    def downloadSamples(self, name):
        import hashlib
        import shutil
        from urllib.parse import urlparse
        from urllib.request import url2pathname

        import slicer

        source = SampleDataLogic.sources[name]
        nodes = []
        for uri, file_name, node_name, kind, checksum in zip(source["uris"], source["fileNames"], source["nodeNames"],
                                                              source["loadFileType"], source["checksums"]):
            target = SampleDataLogic.cache / file_name
            shutil.copyfile(url2pathname(urlparse(uri).path), target)
            algo, digest = checksum.split(":")
            assert algo == "SHA256" and hashlib.sha256(target.read_bytes()).hexdigest() == digest, file_name
            scene = slicer.mrmlScene
            if kind == "SegmentationFile":
                node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", node_name)
                storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
            else:
                node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", node_name)
                storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
            storage.SetFileName(str(target))
            assert storage.ReadData(node), target
            scene.RemoveNode(storage)  # as Sample Data does: the cache copy is not the node's file
            nodes.append(node)
        return nodes


class WidgetEnvironment:
    """Install everything; ``env.modules[name]`` is the imported module file, ``env.widget(name)`` its
    widget (made on first use, like Slicer), ``env.errors`` the error dialogs shown, ``env.status`` the
    status-bar messages. :meth:`close` restores ``slicer`` as it was."""

    def __init__(self, slicer, scene, temp_dir: Path):
        self.slicer, self.temp_dir = slicer, Path(temp_dir)
        self._saved = install_slicer_python(slicer)
        qt_services.reset()
        install_widgets(sys.modules["qt"], sys.modules["ctk"], slicer)
        slicer.mrmlScene = scene
        self.errors: list[str] = []
        self.status: list[str] = []
        self.selected: list[str] = []
        self.app = StandInApp(lambda: slicer.mrmlScene)
        self._patch()
        SampleDataLogic.sources, SampleDataLogic.cache = {}, self._mkdir(self.temp_dir / "SampleDataCache")
        self._sample_data_saved = sys.modules.get("SampleData")
        sys.modules["SampleData"] = types.SimpleNamespace(SampleDataLogic=SampleDataLogic)
        self.modules = {name: import_module_file(path) for name, path in MODULES.items()}
        self._scripted = {name: _ScriptedModule(self, name) for name in MODULES}
        slicer.modules = types.SimpleNamespace(**{name.lower(): self._scripted[name] for name in MODULES})

    def _patch(self) -> None:
        s, util = self.slicer, self.slicer.util
        self._util_saved = {n: getattr(util, n) for n in ("loadUI", "tempDirectory", "errorDisplay",
                                                           "showStatusMessage", "selectModule",
                                                           "confirmOkCancelDisplay", "confirmYesNoDisplay")}
        s.app = self.app
        s.qSlicerScriptedLoadableModule = _ScriptedModule
        s.qSlicerScriptedLoadableModuleWidget = type("qSlicerScriptedLoadableModuleWidget",
                                                     (qMRMLWidget,), {})
        env = self
        self.app.moduleManager = lambda: types.SimpleNamespace(
            connect=lambda *a: None, disconnect=lambda *a: None, module=lambda name: env._scripted.get(name))
        util.loadUI = lambda path: load_ui(path, sys.modules["qt"], sys.modules["ctk"], s)
        counter = iter(range(10**6))
        util.tempDirectory = lambda key="__SlicerTemp__", *a, **k: str(
            self._mkdir(self.temp_dir / f"{key}-{next(counter)}"))
        util.errorDisplay = lambda text, *a, **k: self.errors.append(str(text))
        util.showStatusMessage = lambda text, *a, **k: self.status.append(str(text))
        util.selectModule = lambda name: self.selected.append(name)
        util.confirmOkCancelDisplay = lambda *a, **k: True
        util.confirmYesNoDisplay = lambda *a, **k: False

    @staticmethod
    def _mkdir(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add_module(self, name: str, python_module) -> None:
        """Make another scripted module known to the module manager (e.g. a stand-in TotalSegmentator)."""
        self.modules[name] = python_module
        self._scripted[name] = _ScriptedModule(self, name)
        setattr(self.slicer.modules, name.lower(), self._scripted[name])
        sys.modules[name] = python_module

    def add_slice_views(self, scene) -> list:
        """Red, Yellow and Green slice and composite nodes, as Slicer's layout manager makes them."""
        views = []
        for name in ("Red", "Yellow", "Green"):
            view = scene.AddNewNodeByClass("vtkMRMLSliceNode", name)
            view.SetLayoutName(name)
            composite = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
            composite.SetLayoutName(name)
            views.append((view, composite))
        scene.AddNewNodeByClass("vtkMRMLTableViewNode", "TableView1")
        return views

    def widget(self, name: str = "REACTKD"):
        """The module's Python widget, made (and set up) on first use."""
        return self._scripted[name].widgetRepresentation().self()

    def close(self) -> None:
        from REACTKDLib.process import stop_all
        from REACTKDLib.worker import stop_all_workers

        stop_all_workers()
        stop_all()
        for scripted in self._scripted.values():  # as Slicer does when it unloads a module
            if scripted._widget is not None:
                python_widget = scripted._widget.self()
                for step in ("exit", "cleanup"):
                    if hasattr(python_widget, step):
                        getattr(python_widget, step)()
                scripted._widget = None
        for name, value in self._util_saved.items():
            setattr(self.slicer.util, name, value)
        for name in ("app", "modules", "qSlicerScriptedLoadableModule", "qSlicerScriptedLoadableModuleWidget"):
            if hasattr(self.slicer, name):
                delattr(self.slicer, name)
        qt_services.reset()
        for name in [n for n in self.modules if n not in MODULES]:
            sys.modules.pop(name, None)
        if self._sample_data_saved is None:
            sys.modules.pop("SampleData", None)
        else:
            sys.modules["SampleData"] = self._sample_data_saved
        uninstall(self.slicer, self._saved)
