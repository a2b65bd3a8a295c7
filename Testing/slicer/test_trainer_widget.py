"""REACTKDTrainer as documented: ``slicer.util.getModuleLogic("REACTKDTrainer")`` (Slicer's own function,
which goes through the module's widget), the panel on the timer (per-epoch progress, Cancel, a finished
run offered in REACT-KD's model picker) and the script for ``Slicer --no-main-window --python-script``.

The panel's run here is a stand-in child process that prints what ``reactkd train`` prints and writes the
fold students; the real command line and its resume are tested in test_training.py.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mrml_env import require_slicer
from slicer_code import ROOT, SLICER_PYTHON, missing

slicer = require_slicer()
if missing(SLICER_PYTHON):
    pytest.skip(missing(SLICER_PYTHON), allow_module_level=True)

import qt_services  # noqa: E402
from widget_env import WidgetEnvironment  # noqa: E402

SCRIPT = ROOT / "REACTKDTrainer" / "Resources" / "Scripts" / "reactkd_train.py"


@pytest.fixture
def env(tmp_path):
    environment = WidgetEnvironment(slicer, slicer.vtkMRMLScene(), tmp_path / "slicer-temp")
    yield environment
    environment.close()


def _fake_training(out: Path, fail: bool = False, slow: bool = False) -> list[str]:
    """A child that prints ``reactkd train``'s progress lines for 2 folds and writes both fold students."""
    code = textwrap.dedent(f"""
        import pathlib, sys, time
        out = pathlib.Path({str(out)!r})
        for fold in (0, 1):
            for stage in ("teacher", "student"):
                for epoch in (1, 2):
                    print(f"fold {{fold}} {{stage}} {{epoch}}/2: loss 0.5", flush=True)
                    time.sleep({0.5 if slow else 0.01})
            (out / f"fold{{fold}}" / "student").mkdir(parents=True, exist_ok=True)
            (out / f"fold{{fold}}" / "student" / "best.pt").write_bytes(b"")
        sys.exit({1 if fail else 0})
    """)
    return [sys.executable, "-c", code]


def _start_fake(monkeypatch, env, **kwargs):
    from REACTKDLib.process import BackgroundProcess
    from REACTKDLib.training import TrainingRun

    started = []

    def start(config, out, device="auto", manifest="", overrides=None):
        started.append((config, out, device, manifest))
        return TrainingRun(BackgroundProcess(_fake_training(Path(out), **kwargs)), out, 2)

    monkeypatch.setattr(env.modules["REACTKDTrainer"].REACTKDTrainerLogic, "startTraining",
                        lambda self, *a, **k: start(*a, **k))
    return started


def _wait(widget, timeout=60.0):
    end = time.monotonic() + timeout
    while widget.panel.run is not None and time.monotonic() < end:
        qt_services.tick()
        time.sleep(0.02)
    assert widget.panel.run is None


def test_get_module_logic_goes_through_the_widget(env):
    logic = slicer.util.getModuleLogic("REACTKDTrainer")  # Slicer's own function, unchanged
    assert isinstance(logic, env.modules["REACTKDTrainer"].REACTKDTrainerLogic)
    assert slicer.util.getModuleLogic("REACTKD") is env.widget("REACTKD").logic
    assert logic is env.widget("REACTKDTrainer").logic  # one widget, made once


def test_panel_trains_with_progress_and_offers_the_model(env, tmp_path, monkeypatch):
    started = _start_fake(monkeypatch, env)
    w = env.widget("REACTKDTrainer")
    p = w._parameterNode
    assert [text for text, _ in w.ui.configComboBox.items][0] == "demo-cpu"
    assert w.ui.configComboBox.items[-1][0] == "Other YAML file…"
    assert not w.ui.startButton.enabled and "output folder" in w.ui.statusLabel.text
    out = tmp_path / "run"
    w.ui.outputPathLineEdit.currentPath = str(out)
    assert p.outputFolder == out and w.ui.startButton.enabled
    w.ui.manifestPathLineEdit.currentPath = str(tmp_path / "missing.csv")
    assert not w.ui.startButton.enabled and w.ui.statusLabel.text.startswith("Manifest not found:")
    w.ui.manifestPathLineEdit.currentPath = ""
    w.ui.startButton.click()
    assert [call[:3] for call in started] == [("demo-cpu", str(out), "auto")]
    assert w.ui.startButton.text == "Cancel" and w.ui.progressBar.visible
    values = []
    while w.panel.run is not None:
        qt_services.tick()
        values.append(w.ui.progressBar.value)
        time.sleep(0.02)
    assert values == sorted(values) and max(values) > 500  # per-epoch progress, growing
    assert w.ui.statusLabel.text.startswith("Done: the model in") and w.ui.useModelButton.enabled
    assert qt_services.QSettings.store["REACTKD/TrainedModels"] == [str(out)]
    # REACT-KD's picker offers it; "Grade with this model" selects it there
    reactkd = env.widget("REACTKD")
    reactkd.picker.fill()
    assert any(c.origin == "trained" and c.path == str(out) for c in reactkd.picker.choices)
    w.ui.useModelButton.click()
    assert reactkd._parameterNode.modelPath == out and env.selected == ["REACTKD"]


def test_panel_cancel_and_failure_are_one_line(env, tmp_path, monkeypatch):
    _start_fake(monkeypatch, env, slow=True)
    w = env.widget("REACTKDTrainer")
    w.ui.outputPathLineEdit.currentPath = str(tmp_path / "run")
    w.ui.startButton.click()
    w.ui.startButton.click()  # Cancel
    _wait(w)
    assert w.ui.statusLabel.text == "Cancelled; Start resumes from the last completed epoch."
    assert w.ui.startButton.text == "Start training" and not w.ui.useModelButton.enabled
    _start_fake(monkeypatch, env, fail=True)
    w.ui.startButton.click()
    _wait(w)
    assert w.ui.statusLabel.text.startswith("The training failed (exit code 1)") and "\n" not in w.ui.statusLabel.text


def test_scene_close_stops_training(env, tmp_path, monkeypatch):
    from REACTKDLib.process import running_processes

    _start_fake(monkeypatch, env, slow=True)
    w = env.widget("REACTKDTrainer")
    w.ui.outputPathLineEdit.currentPath = str(tmp_path / "run")
    w.ui.startButton.click()
    assert running_processes()
    slicer.mrmlScene.Clear(0)
    assert w.panel.run is None and not running_processes()


def test_headless_script_trains_through_the_module_logic(env, tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("reactkd_train", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    logic = slicer.util.getModuleLogic("REACTKDTrainer")
    calls = []

    def train(config, out, device="auto", overrides=None, **kwargs):
        calls.append((config, out, device, overrides))
        for k in (0, 1):
            (Path(out) / f"fold{k}" / "student").mkdir(parents=True, exist_ok=True)
            (Path(out) / f"fold{k}" / "student" / "best.pt").write_bytes(b"")
        return 0

    monkeypatch.setattr(logic, "train", train)
    manifest = tmp_path / "cases.csv"
    manifest.write_text("patient_id\n")
    out = tmp_path / "run"
    code = script.main(["--config", "paper", "--out", str(out), "--manifest", str(manifest), "--device", "cpu",
                        "--set", "stage1.epochs=2"], slicer)
    assert code == 0
    assert calls == [("paper", str(out), "cpu", [f"data.manifest={manifest.resolve()}", "stage1.epochs=2"])]
    assert "offered in REACT-KD's model picker" in capsys.readouterr().out
    assert script.main(["--out", str(tmp_path / "x"), "--manifest", str(tmp_path / "none.csv")], slicer) == 2
    assert "Manifest not found" in capsys.readouterr().err
    assert "--python-script" in SCRIPT.read_text()  # the documented command line
