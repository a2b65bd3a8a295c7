"""Static checks of what only Slicer can run: the module files against their .ui, the CMake lists and
the Extensions Index entry (the modules themselves need Slicer's Qt; their self-tests run in Slicer's ctest)."""

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
    for module, ui in ((MODULE, UI), (TRAINER, TRAINER_UI)):
        widgets, _ = _ui_widgets(ui)
        used = set(re.findall(r"self\.ui\.(\w+)", module.read_text()))
        assert used and used <= set(widgets), (module.name, used - set(widgets))


def test_module_files_compile_and_stay_thin():
    for path in (MODULE, ROOT / "REACTKDTrainer" / "REACTKDTrainer.py"):
        tree = ast.parse(path.read_text())
        top_imports = {a.name.split(".")[0] for n in tree.body if isinstance(n, ast.Import) for a in n.names}
        top_imports |= {n.module.split(".")[0] for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
        # torch / the core load lazily (inside functions): the module must load without them, before the
        # dependency check has offered to install them
        assert not top_imports & {"torch", "reactkd", "monai"}, (path.name, top_imports)
    # Slicer looks the self-test up as REACTKD.REACTKDTest: defined in REACTKDLib.selftest, bound at the
    # module file's top level
    module = ast.parse(MODULE.read_text())
    bound = {a.asname or a.name for n in module.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert "REACTKDTest" in bound
    selftest = ast.parse((ROOT / "REACTKD" / "REACTKDLib" / "selftest.py").read_text())
    cls = next(n for n in selftest.body if isinstance(n, ast.ClassDef) and n.name == "REACTKDTest")
    assert [b.id for b in cls.bases] == ["ScriptedLoadableModuleTest"]
    methods = {f.name for f in cls.body if isinstance(f, ast.FunctionDef)}
    assert {"runTest", "test_shipped_model_grades_the_sample_case", "test_widget_grades_the_sample_case"} <= methods
    # a test that cannot run says so (skipTest), never "passes" after a message
    for path in (ROOT / "REACTKD" / "REACTKDLib" / "selftest.py", TRAINER):
        text = path.read_text()
        assert "skipTest(" in text and not re.search(r"delayDisplay\([^)]*[Ss]kipped[^)]*\)\s*\n\s*return", text), path


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
    """Slicer 5.8 runs Python 3.9: the module files, and what they import before the version check answers,
    must parse there so that the panel can say "needs Slicer 5.10" instead of failing to load."""
    lib = ROOT / "REACTKD" / "REACTKDLib"
    for path in (MODULE, TRAINER, lib / "version_check.py", lib / "errors.py", lib / "selftest.py"):
        ast.parse(path.read_text(), str(path), feature_version=(3, 9))
    module = ast.parse(MODULE.read_text())
    top = [n.module for n in module.body if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("REACTKDLib")]
    assert set(top) <= {"REACTKDLib.errors", "REACTKDLib.selftest"}, top
