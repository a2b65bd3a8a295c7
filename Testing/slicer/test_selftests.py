"""The modules' in-Slicer self-tests (REACTKDGui.selftest, REACTKDGui.trainer_selftest) where they can run
outside Slicer: in the widget environment of :mod:`widget_env`, the self-test that drives the REACTKD panel
grades the phantom sample case with the model shipped in the repository (loading the sample through the
Sample Data stand-in, Apply, waiting on the panel's timer, the region table), and the trainer's
self-tests reach its logic and panel as Slicer hands them out. ``delayDisplay`` only records its message;
``slicer.app.processEvents`` fires the stand-in timers, as Slicer's event loop would. The ones that need
Slicer's layout manager and views run in Slicer only.
"""

from __future__ import annotations

import sys

import pytest
from mrml_env import require_slicer
from slicer_code import SLICER_PYTHON, missing

slicer = require_slicer()
if missing(SLICER_PYTHON):
    pytest.skip(missing(SLICER_PYTHON), allow_module_level=True)

import qt_services  # noqa: E402
from widget_env import WidgetEnvironment  # noqa: E402


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.delenv("REACTKD_MODEL", raising=False)
    environment = WidgetEnvironment(slicer, slicer.vtkMRMLScene(), tmp_path / "slicer-temp")
    environment.add_slice_views(slicer.mrmlScene)
    monkeypatch.setattr(environment.app, "processEvents", lambda *a: qt_services.tick())
    yield environment
    environment.close()


def _case(module: str, name: str, shown: list):
    """The self-test class of ``module`` as Slicer makes it, its messages recorded in ``shown``."""
    case = getattr(sys.modules[module], name)()
    case.delayDisplay = lambda message, *a, **k: shown.append(message)
    return case


@pytest.mark.slow
def test_the_reactkd_self_test_drives_the_panel_through_apply(env):
    shown = []
    case = _case("REACTKDGui.selftest", "REACTKDTest", shown)
    case.test_core_importable()
    case.test_widget_grades_the_sample_case()  # skips, with its reason, without the shipped model
    assert shown and shown[-1].startswith("Widget Apply OK: SYNTHETIC DEMONSTRATION MODEL")
    case.tearDown()


def test_the_trainer_self_tests_reach_its_logic_and_panel(env):
    shown = []
    case = _case("REACTKDGui.trainer_selftest", "REACTKDTrainerTest", shown)
    for test in (case.test_logic_through_get_module_logic, case.test_progress_parsing,
                 case.test_panel_refuses_bad_inputs):
        test()
