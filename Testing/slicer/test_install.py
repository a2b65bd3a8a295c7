"""An install that never breaks Slicer: constraints from every installed distribution, the pip plan
resolved for real against Slicer 5.10's own packages (nothing shipped is replaced; highdicom fits Slicer's
pydicom), torch's requirement read from MONAI's metadata, an existing torch checked, a restart asked for
when a loaded package changed, and Slicer < 5.10 refused in one line."""

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

import REACTKDGui.install as install
from REACTKDGui.install import monai_from_report, monai_probe_arguments
from REACTKDLib.dependencies import (
    REQUIREMENTS,
    canonical_name,
    changed_imported,
    constraints_text,
    installed_distributions,
    pip_install_plan,
    requirement_name,
    torch_problem,
    torch_requirement,
)
from REACTKDLib.version_check import slicer_version_problem

ROOT = Path(__file__).resolve().parents[2]
SLICER_510 = ROOT.parent / "shared" / "slicer" / "python-packages" / "slicer-5.10.0.txt"


def _shipped(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonical_name(name)] = version
    return pins


class _Dist:
    def __init__(self, name, version):
        self.metadata, self.version = {"Name": name}, version


def test_every_installed_distribution_is_pinned():
    dists = [_Dist("PyYAML", "6.0.2"), _Dist("typing_extensions", "4.14.0"), _Dist("pyyaml", "5.1"),
             _Dist("odd", "not a version"), _Dist("torch", "2.13.0+cpu")]
    installed = installed_distributions(lambda: dists)
    assert installed == {"pyyaml": "6.0.2", "typing-extensions": "4.14.0", "odd": "not a version",
                         "torch": "2.13.0+cpu"}  # the first on sys.path wins, as for import
    assert constraints_text(installed).splitlines() == ["pyyaml==6.0.2", "torch==2.13.0+cpu",
                                                        "typing-extensions==4.14.0"]
    real = installed_distributions()
    assert real["numpy"] == __import__("numpy").__version__ and "pytest" in real


def test_the_pip_plan_asks_for_the_missing_packages_and_pins_the_rest():
    installed = {"numpy": "2.0.2", "pydicom": "2.4.4", "pillow": "11.2.1", "torch": "2.13.0", "monai": "1.3.0"}
    missing = ["torch", "monai", "ot", "highdicom", "psutil"]
    plan = pip_install_plan(missing, installed, monai_version="1.5.1")
    assert plan.requirements == ["monai==1.5.1", "pot>=0.9.5", "highdicom>=0.22", "psutil>=5.9"]  # torch: PyTorchUtils
    pins = plan.constraints.splitlines()
    assert "pydicom==2.4.4" in pins and "numpy==2.0.2" in pins and "torch==2.13.0" in pins
    assert not any(p.startswith("monai==") for p in pins)  # a requested package is not also pinned
    assert plan.pip_arguments("/tmp/c.txt") == [*plan.requirements, "-c", "/tmp/c.txt"]
    assert all(requirement_name(r) not in ("numpy", "simpleitk", "vtk", "torch") for r in
               pip_install_plan(list(REQUIREMENTS), {}).requirements)


def test_torch_requirement_comes_from_monais_metadata():
    requires = ["numpy<3.0,>=1.24", "torch>=2.4.1", "torch>=2.6; extra == 'all'", "torchvision; extra == 'all'",
                "torch<2.0; python_version < '3.0'"]
    assert torch_requirement(requires) == ">=2.3,>=2.4.1"
    assert torch_requirement(None) == ">=2.3"
    report = {"install": [{"metadata": {"name": "monai", "version": "1.5.1", "requires_dist": requires}}]}
    assert monai_from_report(report) == ("1.5.1", requires) and monai_from_report({}) == (None, [])
    args = monai_probe_arguments("r.json", "c.txt")
    assert args[:2] == ["install", "--dry-run"] and "--no-deps" in args and args[-1] == REQUIREMENTS["monai"]


def test_an_existing_torch_is_checked_in_one_line():
    assert torch_problem("2.13.0+cpu", ">=2.3,>=2.4.1") is None and torch_problem(None, ">=2.3") is None
    message = torch_problem("2.1.2+cu118", ">=2.3,>=2.4.1", "1.5.1")
    assert message.startswith("PyTorch 2.1.2+cu118 is installed, but MONAI 1.5.1 needs torch>=2.3,>=2.4.1")
    assert "PyTorch Utils" in message and "\n" not in message


def test_a_restart_is_asked_for_only_when_a_loaded_package_changed():
    before = {"pillow": "11.2.1", "tqdm": "4.66.0", "pot": "0.9.4"}
    after = {"pillow": "12.0.0", "tqdm": "4.67.0", "pot": "0.9.5", "monai": "1.5.1"}
    packages = {"PIL": ["Pillow"], "tqdm": ["tqdm"], "ot": ["POT"]}
    assert changed_imported(before, after, modules={"PIL": object(), "ot": object()},
                            packages=packages) == ["pillow", "pot"]
    assert changed_imported(before, before, modules={"PIL": object()}, packages=packages) == []
    assert changed_imported(before, after, modules={}, packages=packages) == []  # nothing loaded: no restart


def test_slicer_older_than_5_10_is_refused_in_one_line():
    message = slicer_version_problem((3, 9, 10), "5.8.1")
    assert message.startswith("REACT-KD needs 3D Slicer 5.10 or newer (Python 3.10+); "
                              "this is Slicer 5.8.1 with Python 3.9")
    assert "\n" not in message
    assert slicer_version_problem((3, 12, 10), "5.10.0") is None
    assert slicer_version_problem((3, 12), "5.11.0-2025-10-01") is None
    assert slicer_version_problem((3, 12), "5.8.1") is not None  # an old Slicer built with a newer Python
    assert slicer_version_problem((3, 9)) is not None and slicer_version_problem((3, 10)) is None
    source = (ROOT / "REACTKD" / "REACTKDLib" / "version_check.py").read_text()
    ast.parse(source, feature_version=(3, 9))  # it must load on Slicer 5.8's Python to say so


def test_ensure_dependencies_installs_torch_for_monai_then_pip_under_constraints(monkeypatch, tmp_path):
    """The whole flow with stand-ins for Slicer's application, PyTorchUtils and pip."""
    calls = {}
    missing = iter([["torch", "monai", "ot"], []])
    before = {"numpy": "2.0.2", "pydicom": "2.4.4", "pillow": "11.2.1"}
    after_torch = {**before, "torch": "2.6.0"}
    states = iter([before, after_torch, {**after_torch, "pillow": "11.3.0", "monai": "1.5.1", "pot": "0.9.5"}])

    class TorchLogic:
        def installTorch(self, askConfirmation=False, forceComputationBackend=None, torchVersionRequirement=None):  # noqa: N802,N803
            calls["torch"] = torchVersionRequirement
            return object()

    def pip_install(args):
        calls["pip"] = list(args)
        calls["constraints"] = Path(args[args.index("-c") + 1]).read_text().splitlines()

    util = types.SimpleNamespace(confirmOkCancelDisplay=lambda text: calls.setdefault("asked", text) and True,
                                 confirmYesNoDisplay=lambda text: calls.setdefault("restart?", text) and False,
                                 getModuleLogic=lambda name: TorchLogic(), pip_install=pip_install,
                                 restart=lambda: calls.setdefault("restarted", True))
    monkeypatch.setattr(slicer, "app", types.SimpleNamespace(applicationVersion="5.10.0"), raising=False)
    monkeypatch.setattr(slicer, "util", util, raising=False)
    monkeypatch.setattr(install, "missing_requirements", lambda: next(missing))
    monkeypatch.setattr(install, "installed_distributions", lambda: next(states))
    monkeypatch.setattr(install, "_monai_to_install", lambda installed, workdir: ("1.5.1", ["torch>=2.4.1"]))
    monkeypatch.setattr(install, "changed_imported", lambda a, b: ["pillow"] if a != b else [])
    outcome = install.ensure_dependencies(ask_confirmation=True)
    assert "PyTorch extension" in calls["asked"]
    assert calls["torch"] == ">=2.3,>=2.4.1"  # REACTKD's and MONAI's own requirement
    assert calls["pip"][:2] == ["monai==1.5.1", "pot>=0.9.5"] and "-c" in calls["pip"]
    assert {"pydicom==2.4.4", "pillow==11.2.1", "numpy==2.0.2", "torch==2.6.0"} <= set(calls["constraints"])
    assert not outcome and outcome.restart_required and outcome.changed == ["pillow"]
    assert "restart Slicer" in outcome.message and "restarted" not in calls  # the user said no

    monkeypatch.setattr(slicer, "app", types.SimpleNamespace(applicationVersion="5.8.1"), raising=False)
    too_old = install.ensure_dependencies()
    assert not too_old and too_old.message.startswith("REACT-KD needs 3D Slicer 5.10")


def _index_reachable() -> str | None:
    probe = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "highdicom"], capture_output=True,
                           text=True, timeout=60)
    return None if probe.returncode == 0 and "0.22.0" in probe.stdout else (
        f"no package index reachable (pip index versions highdicom: {probe.stderr.strip()[-200:]})")


@pytest.mark.slow
def test_the_install_plan_replaces_nothing_slicer_5_10_ships(tmp_path):
    """pip resolves the plan the module runs, for Slicer 5.10's Python 3.12, with Slicer's packages (and the
    torch PyTorchUtils put there first) as the installed set: every shipped package keeps its version."""
    if not SLICER_510.is_file():
        pytest.skip(f"Slicer's package list not found at {SLICER_510} (it lives beside the project)")
    reason = _index_reachable()
    if reason:
        pytest.skip(reason)
    shipped = _shipped(SLICER_510)
    installed = {**shipped, "torch": "2.13.0"}
    missing = [name for name, req in REQUIREMENTS.items() if requirement_name(req) not in installed]
    plan = pip_install_plan(missing, installed)
    constraints, report = tmp_path / "constraints.txt", tmp_path / "report.json"
    constraints.write_text(plan.constraints)
    # --target: resolve for another Python (3.12) into an empty folder, so nothing of this venv counts
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report),
                           "--target", str(tmp_path / "target"), "--python-version", "3.12", "--only-binary=:all:",
                           *plan.pip_arguments(constraints)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    resolved = {canonical_name(i["metadata"]["name"]): i["metadata"]["version"]
                for i in json.loads(report.read_text())["install"]}
    replaced = {n: (v, resolved[n]) for n, v in shipped.items() if n in resolved and resolved[n] != v}
    assert not replaced, f"pip would replace packages Slicer ships: {replaced}"
    assert resolved["pydicom"] == "2.4.4" and resolved["highdicom"] == "0.22.0"
    assert {"monai", "pot", "psutil", "scikit-image"} <= set(resolved)
    monai = next(i["metadata"] for i in json.loads(report.read_text())["install"]
                 if i["metadata"]["name"].lower() == "monai")
    assert torch_problem(resolved["torch"], torch_requirement(monai.get("requires_dist"))) is None
