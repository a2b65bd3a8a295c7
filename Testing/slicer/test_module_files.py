"""Static checks of what only Slicer can run: the module files and their panels (REACTKDGui) against their
.ui, the layers (module files → REACTKDGui → REACTKDLib, imports at the top), the CMake lists and the
Extensions Index entry (the modules themselves need Slicer's Qt; their self-tests run in Slicer's ctest)."""

import ast
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "REACTKD" / "REACTKD.py"
UI = ROOT / "REACTKD" / "Resources" / "UI" / "REACTKD.ui"


TRAINER = ROOT / "REACTKDTrainer" / "REACTKDTrainer.py"
TRAINER_UI = ROOT / "REACTKDTrainer" / "Resources" / "UI" / "REACTKDTrainer.ui"
GUI = ROOT / "REACTKD" / "REACTKDGui"
LIB = ROOT / "REACTKD" / "REACTKDLib"
PROJECT = {"REACTKD", "REACTKDTrainer", "REACTKDGui", "REACTKDLib"}
OPTIONAL = {
    "reactkd", "torch",  # the core in Slicer's process: only in a self-test, after checking its packages are there
    "SampleData", "TotalSegmentator", "PyTorchUtils",  # other Slicer modules, looked up where used
    "slicer",  # REACTKDLib's pure functions import without slicer-core; its MRML-facing ones import it when called
    "matplotlib", "psutil", "packaging", "yaml",  # optional packages, imported where used
}
"""Top-level package names a function may import where it is used (each says why at the import)."""


def _ui_widgets(ui=UI):
    tree = ET.parse(ui)
    widgets = {w.get("name"): w for w in tree.iter("widget")}
    params = {}
    for name, w in widgets.items():
        for prop in w.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                params[name] = prop.find("string").text
    return widgets, params


def _fields(module, cls_name):
    tree = ast.parse(module.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls_name)
    return {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)}


def test_ui_parameter_names_match_the_parameter_node():
    fields = _fields(MODULE, "REACTKDParameterNode")
    _, params = _ui_widgets()
    assert set(params.values()) <= fields, set(params.values()) - fields
    assert {"ctVolume", "segmentation", "device", "overlayOpacity", "showEdges"} <= set(params.values())
    # the model is chosen in the picker (a combo box the widget fills), stored in modelPath
    widgets, _ = _ui_widgets()
    assert widgets["modelComboBox"].get("class") == "QComboBox" and "modelPath" in fields
    trainer_fields = _fields(TRAINER, "REACTKDTrainerParameterNode")
    _, trainer_params = _ui_widgets(TRAINER_UI)
    assert set(trainer_params.values()) == trainer_fields - {"config"}  # config: the widget's combo box


def test_ct_selector_lists_scalar_volumes_without_label_maps():
    widgets, _ = _ui_widgets()
    ct = widgets["ctSelector"]
    lists = {p.get("name"): [s.text for s in p.iter("string")] for p in ct.findall("property")}
    assert lists["nodeTypes"] == ["vtkMRMLScalarVolumeNode"]
    assert lists["hideChildNodeTypes"] == ["vtkMRMLLabelMapVolumeNode"]


def test_every_ui_widget_the_module_uses_exists():
    """The module files and their panels (``ui.x``, ``self.ui.x``) name only widgets of their ``.ui``."""
    trainer_gui = {GUI / "trainer_panel.py"}
    reactkd_gui = set(GUI.glob("*.py")) - trainer_gui - {GUI / "trainer_selftest.py"}
    for files, ui in (({MODULE} | reactkd_gui, UI), ({TRAINER} | trainer_gui, TRAINER_UI)):
        widgets, _ = _ui_widgets(ui)
        used = {name for path in files for name in re.findall(r"\bui\.(\w+)", path.read_text())}
        assert used and used <= set(widgets), (ui.name, used - set(widgets))
    # each panel of the REACTKD module drives its own part of the .ui
    for name in ("grading_panel", "batch_panel", "model_picker_panel", "segmentation_panel", "topology_panel"):
        assert re.search(r"\bui\.\w+", (GUI / f"{name}.py").read_text()), name


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Top-level package names imported at module level (inside a module-level ``if`` too)."""
    names, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo += [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
    return names


def _function_imports(path: Path) -> list[tuple[int, str]]:
    return [(n.lineno, (n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) or "")
            for f in ast.walk(ast.parse(path.read_text())) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_module_files_compile_and_stay_thin():
    limits = {MODULE: 320, TRAINER: 250}
    for path, limit in limits.items():
        tree = ast.parse(path.read_text())
        # torch / the core never load with the module: it must load without them, before the dependency
        # check has offered to install them
        assert not _module_level_imports(tree) & {"torch", "reactkd", "monai"}, path.name
        assert len(path.read_text().splitlines()) <= limit, (path.name, "thin module file: panels go to REACTKDGui")
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        assert classes == [path.stem, f"{path.stem}ParameterNode", f"{path.stem}Widget", f"{path.stem}Logic"], classes
    for path in GUI.glob("*.py"):  # one small panel per file
        assert len(path.read_text().splitlines()) <= 300, path.name
    # Slicer looks the self-tests up as REACTKD.REACTKDTest and REACTKDTrainer.REACTKDTrainerTest: defined
    # in REACTKDGui, bound in the module files
    for module, test, source in ((MODULE, "REACTKDTest", "selftest.py"),
                                 (TRAINER, "REACTKDTrainerTest", "trainer_selftest.py")):
        bound = {a.asname or a.name for n in ast.walk(ast.parse(module.read_text())) if isinstance(n, ast.ImportFrom)
                 for a in n.names}
        assert test in bound, module.name
        tree = ast.parse((GUI / source).read_text())
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == test)
        assert [b.id for b in cls.bases] == ["ScriptedLoadableModuleTest"]
        # a test that cannot run says so (skipTest), never "passes" after a message
        text = (GUI / source).read_text()
        passes_after_a_message = re.search(r"delayDisplay\([^)]*[Ss]kipped[^)]*\)\s*\n\s*return", text)
        assert "skipTest(" in text and not passes_after_a_message, source
        imported = _module_level_imports(tree) | {m.split(".")[0] for _, m in _function_imports(GUI / source)}
        assert not {"REACTKD", "REACTKDTrainer"} & imported, source  # the module reached as Slicer hands it out
    methods = {f.name for f in ast.walk(ast.parse((GUI / "selftest.py").read_text())) if isinstance(f, ast.FunctionDef)}
    assert {"runTest", "test_shipped_model_grades_the_sample_case", "test_widget_grades_the_sample_case"} <= methods


def test_layers_import_one_way_and_at_the_top():
    """Module files → REACTKDGui → REACTKDLib (Qt-free) → the core in a separate process; no layer imports one
    above it, and no function imports a project module (no import placed to dodge a cycle)."""
    for path in LIB.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = _module_level_imports(tree) | {m.split(".")[0] for _, m in _function_imports(path)}
        assert not imported & {"qt", "ctk", "REACTKDGui", "REACTKD", "REACTKDTrainer", "reactkd"}, (path.name, imported)
        # MRML only: the application, its dialogs and its scene are the callers' (they pass the scene in)
        app = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
               and n.value.id == "slicer" and n.attr in ("app", "util", "mrmlScene", "modules")}
        assert not app, (path.name, app)
    for path in GUI.glob("*.py"):
        imported = _module_level_imports(ast.parse(path.read_text()))
        assert not imported & {"REACTKD", "REACTKDTrainer", "reactkd", "torch"}, (path.name, imported)
    for path in (MODULE, TRAINER, *GUI.glob("*.py"), *LIB.glob("*.py")):
        local = [(line, m) for line, m in _function_imports(path) if m.split(".")[0] not in OPTIONAL]
        assert not local, (path.name, local, "imports belong at the top of the module")


def test_cmake_and_extension_index_entry():
    top = (ROOT / "CMakeLists.txt").read_text()
    for key in ("EXTENSION_HOMEPAGE", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION", "EXTENSION_ICONURL",
                "EXTENSION_SCREENSHOTURLS", "EXTENSION_DEPENDS", "find_package(Slicer", "Slicer_EXTENSION_CPACK"):
        assert key in top
    for module in ("REACTKD", "REACTKDTrainer"):
        text = (ROOT / module / "CMakeLists.txt").read_text()
        assert "slicerMacroBuildScriptedModule" in text and "slicer_add_python_unittest" in text
    assert "REACTKDLib/outputs.py" in (ROOT / "REACTKD" / "CMakeLists.txt").read_text()
    assert "Resources/UI/REACTKD.ui" in (ROOT / "REACTKD" / "CMakeLists.txt").read_text()
    entry = json.loads((ROOT / "REACTKD.json").read_text())
    allowed = {"$schema", "build_dependencies", "build_subdirectory", "category", "scm_revision", "scm_type",
               "scm_url", "tier"}
    assert set(entry) <= allowed and {"$schema", "category", "scm_url"} <= set(entry)
    assert entry["category"] in top and entry["build_dependencies"] == ["PyTorch"]
    assert (ROOT / "Resources" / "Screenshots" / "REACTKD.png").is_file()


def test_what_slicer_5_8_loads_parses_with_python_3_9():
    """Slicer 5.8 runs Python 3.9: the module files, and what they import before the version gate, must
    parse there so that the panel can say "needs Slicer 5.10" instead of failing to load. Everything else
    of the project is imported under ``if sys.version_info >= MINIMUM_PYTHON`` (test_slicer_5_8.py runs it)."""
    for path in (MODULE, TRAINER, LIB / "version_check.py", GUI / "__init__.py"):
        ast.parse(path.read_text(), str(path), feature_version=(3, 9))
    for path in (MODULE, TRAINER):
        module = ast.parse(path.read_text())
        ungated = {n.module for n in module.body if isinstance(n, ast.ImportFrom) and n.module}
        assert {m for m in ungated if m.split(".")[0] in PROJECT} == {"REACTKDLib.version_check"}, path.name
        gates = [n for n in module.body if isinstance(n, ast.If) and "MINIMUM_PYTHON" in ast.unparse(n.test)]
        assert len(gates) == 1 and not gates[0].orelse, path.name
        gated = {n.module.split(".")[0] for n in gates[0].body if isinstance(n, ast.ImportFrom)}
        assert gated <= {"REACTKDGui", "REACTKDLib"} and all(isinstance(n, ast.ImportFrom) for n in gates[0].body)
