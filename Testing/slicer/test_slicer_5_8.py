"""Slicer 5.8 runs Python 3.9: both module files load there, their modules register nothing, their panels
show the one line saying Slicer 5.10 is needed, and nothing of REACTKDGui or REACTKDLib beyond the version
check is imported. Run in a real Python 3.9 interpreter with stand-ins for Slicer's classes (skipped,
with the reason, where no Python 3.9 is installed)."""

from __future__ import annotations

import glob
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from slicer_code import ROOT

CHILD = r'''
import importlib.util, json, sys, types
import xml.etree.ElementTree as ET
from pathlib import Path

root = Path(sys.argv[1])
sys.path[:0] = [str(root / "REACTKD")]


class Widget(types.SimpleNamespace):
    def __init__(self, cls="QWidget", parent=None, enabled=True):
        super().__init__(cls=cls, parent=parent, text="", visible=False, enabled=enabled)

    def setMRMLScene(self, scene):
        pass

    def connect(self, *args):
        raise AssertionError("a signal was connected on Slicer 5.8")

    def usable(self):
        """Enabled, and so is every widget it lies in (as Qt has it)."""
        return self.enabled and (self.parent is None or self.parent.usable())


def load_ui(path):
    """The .ui file's widgets by name, each with its parent and its enabled state from the file."""
    widgets = {}

    def visit(element, parent):
        for child in element.findall("widget") + [w for lay in element.iter("layout") for item in lay.findall("item")
                                                  for w in item.findall("widget")]:
            if child.get("name") in widgets:
                continue
            enabled = [p for p in child.findall("property") if p.get("name") == "enabled"]
            widget = Widget(child.get("class"), parent, not enabled or enabled[0].find("bool").text != "false")
            widgets[child.get("name")] = widget
            visit(child, widget)

    visit(ET.parse(path).getroot(), None)
    return types.SimpleNamespace(**widgets)


def module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


class ScriptedLoadableModule:
    def __init__(self, parent):
        self.parent = parent


class ScriptedLoadableModuleWidget:
    def __init__(self, parent=None):
        self.parent = parent

    def setup(self):
        self.layout = types.SimpleNamespace(addWidget=lambda widget: None)

    def resourcePath(self, name):
        return name


class VTKObservationMixin:
    def __init__(self):
        pass

    def addObserver(self, *args):
        raise AssertionError("a scene observer was added on Slicer 5.8")

    def removeObservers(self):
        pass


connections = []
slicer = module("slicer", vtkMRMLScalarVolumeNode=type("Volume", (), {}), vtkMRMLSegmentationNode=type("Seg", (), {}),
                mrmlScene=object(), app=types.SimpleNamespace(applicationVersion="5.8.1",
                                                              connect=lambda *a: connections.append(a[0])))
slicer.util = module("slicer.util", VTKObservationMixin=VTKObservationMixin, loadUI=lambda path: Widget(),
                     childWidgetVariables=lambda widget: load_ui(ui_file))
module("slicer.parameterNodeWrapper", parameterNodeWrapper=lambda cls: cls, Choice=lambda *a: None,
       WithinRange=lambda *a: None)
module("slicer.ScriptedLoadableModule", ScriptedLoadableModule=ScriptedLoadableModule,
       ScriptedLoadableModuleWidget=ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic=type("Logic", (), {}))
module("vtk")

shown = {}
for name in ("REACTKD", "REACTKDTrainer"):
    ui_file = root / name / "Resources" / "UI" / f"{name}.ui"
    spec = importlib.util.spec_from_file_location(name, root / name / f"{name}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    getattr(loaded, name)(types.SimpleNamespace())
    widget = getattr(loaded, f"{name}Widget")(types.SimpleNamespace(isEntered=True))
    widget.setup()
    widget.enter()
    widget.exit()
    widget.cleanup()
    ui = widget.ui.__dict__
    buttons = sorted(n for n, w in ui.items() if w.cls == "QPushButton" and w.usable())
    shown[name] = {"line": (ui.get("problemLabel") or ui["statusLabel"]).text, "usable buttons": buttons}
loaded_project = sorted(m for m in sys.modules if m.split(".")[0] in ("REACTKDGui", "REACTKDLib"))
print(json.dumps({"python": list(sys.version_info[:2]), "shown": shown, "connections": connections,
                  "project_modules": loaded_project}))
'''


def _python39() -> str | None:
    """A Python 3.9 that runs (a pyenv shim on PATH may name one it cannot start)."""
    candidates = sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.9*" / "bin" / "python3.9")))
    for candidate in [*reversed(candidates), shutil.which("python3.9")]:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 9)"],
                                        capture_output=True).returncode == 0:
            return candidate
    return None


def test_the_modules_load_on_slicer_5_8_and_say_what_they_need(tmp_path):
    python = _python39()
    if python is None:
        pytest.skip("no Python 3.9 interpreter here (python3.9 on PATH or ~/.pyenv/versions/3.9*)")
    script = tmp_path / "slicer58.py"
    script.write_text(CHILD)
    done = subprocess.run([python, str(script), str(ROOT)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["python"] == [3, 9]
    for name in ("REACTKD", "REACTKDTrainer"):
        line = result["shown"][name]["line"]
        assert line.startswith("REACT-KD needs 3D Slicer 5.10 or newer") and "5.8.1" in line, (name, line)
    # nothing can be started: only "Show result tables" stays enabled, and no signal is connected to it
    assert result["shown"]["REACTKD"]["usable buttons"] == ["showTablesButton"]
    assert result["shown"]["REACTKDTrainer"]["usable buttons"] == []
    assert result["connections"] == []  # no sample data registered, no exit hook
    assert result["project_modules"] == ["REACTKDLib", "REACTKDLib.version_check"]
