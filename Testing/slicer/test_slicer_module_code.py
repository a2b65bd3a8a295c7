"""Both module files imported with Slicer's real ``ScriptedLoadableModule`` and ``parameterNodeWrapper``
on slicer-core MRML (stand-ins only for qt/ctk/slicer.app, see slicer_code.py): module metadata, the
parameter node's defaults, node references, validators and a scene save and reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from mrml_env import require_slicer
from slicer_code import (
    ROOT,
    SLICER_PYTHON,
    import_module_file,
    install_slicer_python,
    missing,
    module_parent,
    uninstall,
)

slicer = require_slicer()
if missing(SLICER_PYTHON):
    pytest.skip(missing(SLICER_PYTHON), allow_module_level=True)


@pytest.fixture(scope="module")
def modules():
    """``(REACTKD module, REACTKDTrainer module)`` imported from their files."""
    saved = install_slicer_python(slicer)
    slicer.mrmlScene = slicer.vtkMRMLScene()
    try:
        yield (import_module_file(ROOT / "REACTKD" / "REACTKD.py"),
               import_module_file(ROOT / "REACTKDTrainer" / "REACTKDTrainer.py"))
    finally:
        uninstall(slicer, saved)


@pytest.fixture
def scene(modules):
    slicer.mrmlScene = slicer.vtkMRMLScene()
    return slicer.mrmlScene


def test_the_module_files_use_slicers_own_base_classes(modules):
    reactkd, trainer = modules
    assert reactkd.ScriptedLoadableModule.__module__ == "slicer.ScriptedLoadableModule"
    assert Path(reactkd.ScriptedLoadableModule.__init__.__code__.co_filename).is_relative_to(SLICER_PYTHON)
    assert reactkd.parameterNodeWrapper.__module__.startswith("slicer.parameterNodeWrapper")


@pytest.mark.parametrize("name, folder", [("REACTKD", "REACTKD"), ("REACTKDTrainer", "REACTKDTrainer")])
def test_module_metadata_and_icon(modules, name, folder):
    module = dict(zip(("REACTKD", "REACTKDTrainer"), modules))[name]
    parent = module_parent(ROOT / folder / f"{name}.py")
    getattr(module, name)(parent)
    assert parent.categories == ["Quantification"] and parent.title and "REACTKD developers" in parent.contributors
    assert "Apache-2.0" in parent.acknowledgementText and "template" not in parent.helpText
    # Slicer's base class found the icon in Resources/Icons/<name>.png
    assert Path(parent.icon.args[0]) == ROOT / folder / "Resources" / "Icons" / f"{name}.png"
    assert name in slicer.selfTests
    if name == "REACTKDTrainer":  # a panel of its own now: not hidden
        assert parent.dependencies == ["REACTKD"] and not getattr(parent, "hidden", False)
    else:  # the sample case is registered once Slicer has started; jobs stop when it quits
        signals = [signature for signature, _ in slicer.app.connections]
        assert {"startupCompleted()", "aboutToQuit()"} <= set(signals)


def test_parameter_node_defaults(modules, scene):
    p = modules[0].REACTKDLogic().getParameterNode()
    assert p.ctVolume is None and p.segmentation is None and p.petFdgVolume is None
    assert p.liverSegmentId == "" and p.tumorSegmentIds == []
    assert p.modelPath == Path() and p.segModelPath == Path()
    assert p.device == "auto" and p.overlayOpacity == 0.5 and p.showEdges is True
    # one singleton parameter node per scene, named for the module
    assert modules[0].REACTKDLogic().getParameterNode().parameterNode is p.parameterNode
    assert p.parameterNode.GetAttribute("ModuleName") == "REACTKD"


def test_parameter_node_references_and_validators(modules, scene):
    p = modules[0].REACTKDLogic().getParameterNode()
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    seg = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Segmentation")
    p.ctVolume, p.segmentation = ct, seg
    assert p.parameterNode.GetNodeReference("ctVolume") is ct
    assert p.parameterNode.GetNodeReference("segmentation") is seg
    with pytest.raises(ValueError):
        p.device = "gpu"  # Choice(["auto", "cpu", "cuda"])
    with pytest.raises(ValueError):
        p.overlayOpacity = 1.5  # WithinRange(0, 1)
    with pytest.raises(TypeError):
        p.ctVolume = seg  # a segmentation is not a scalar volume
    assert p.device == "auto" and p.overlayOpacity == 0.5 and p.ctVolume is ct
    scene.RemoveNode(ct)
    assert p.ctVolume is None


def test_parameter_node_survives_scene_save_and_reload(modules, scene, tmp_path):
    logic = modules[0].REACTKDLogic()
    p = logic.getParameterNode()
    ct = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CT")
    p.ctVolume = ct
    p.segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Liver and tumours")
    p.liverSegmentId, p.tumorSegmentIds = "Segment_1", ["Segment_2", "Segment 3"]
    p.modelPath, p.device, p.overlayOpacity = tmp_path / "run dir" / "best.pt", "cpu", 0.25
    path = tmp_path / "scene.mrml"
    scene.SetURL(str(path))
    assert scene.Commit()

    slicer.mrmlScene = reloaded = slicer.vtkMRMLScene()
    reloaded.SetURL(str(path))
    assert reloaded.Connect()
    q = logic.getParameterNode()
    assert q.parameterNode is not p.parameterNode
    assert q.ctVolume.GetName() == "CT" and q.segmentation.GetName() == "Liver and tumours"
    assert q.liverSegmentId == "Segment_1" and q.tumorSegmentIds == ["Segment_2", "Segment 3"]
    assert q.modelPath == tmp_path / "run dir" / "best.pt" and isinstance(q.modelPath, Path)
    assert q.device == "cpu" and q.overlayOpacity == 0.25


def test_trainer_logic_builds_the_reactkd_command(modules):
    command = modules[1].REACTKDTrainerLogic.commandLine("train", "--config", "demo-cpu")
    assert command[-3:] == ["train", "--config", "demo-cpu"] and "reactkd" in " ".join(command)


def test_trainer_parameter_node_defaults_and_reload(modules, scene, tmp_path):
    logic = modules[1].REACTKDTrainerLogic()
    p = logic.getParameterNode()
    assert p.config == "demo-cpu" and p.device == "auto" and p.outputFolder == Path() and p.manifestPath == Path()
    p.config, p.outputFolder, p.manifestPath = "paper", tmp_path / "run", tmp_path / "cases.csv"
    scene.SetURL(str(tmp_path / "scene.mrml"))
    assert scene.Commit()
    slicer.mrmlScene = reloaded = slicer.vtkMRMLScene()
    reloaded.SetURL(str(tmp_path / "scene.mrml"))
    assert reloaded.Connect()
    q = logic.getParameterNode()
    assert (q.config, q.outputFolder, q.manifestPath) == ("paper", tmp_path / "run", tmp_path / "cases.csv")
