"""Install the core's missing packages from inside Slicer, after asking; the plan is in :mod:`.dependencies`.

Order: (1) refuse a Slicer older than 5.10; (2) find the MONAI that will be installed (the installed one,
or the one pip would pick under the constraints, from a ``--dry-run --report``) and its torch
requirement; (3) torch: install it through the PyTorch extension's ``PyTorchUtils`` with that requirement,
or check the torch already there against it; (4) pip installs the rest with every installed distribution
pinned (pip may add, never replace); (5) if a package already imported in Slicer's process changed, ask
for a restart. Needs a running Slicer: its dialogs, ``slicer.util.pip_install`` and the PyTorch extension
(the plan itself, Qt-free, is :mod:`REACTKDLib.dependencies`).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import slicer

from REACTKDLib.commands import python_executable
from REACTKDLib.dependencies import (
    REQUIREMENTS,
    changed_imported,
    constraints_text,
    install_plan_text,
    installed_distributions,
    missing_requirements,
    pip_install_plan,
    torch_problem,
    torch_requirement,
)
from REACTKDLib.process import popen_options
from REACTKDLib.version_check import slicer_version_problem

__all__ = ["InstallOutcome", "ensure_dependencies", "monai_probe_arguments", "monai_from_report"]

log = logging.getLogger("REACTKD")


@dataclass
class InstallOutcome:
    """What :func:`ensure_dependencies` did; true when the core can run now.

    Attributes:
        ready: every package is present and nothing loaded changed (grading can start).
        message: one line for the panel when not ready (declined, too old, a torch that does not fit, a
            restart needed), or what was installed.
        restart_required: a package whose modules Slicer's process already imported was changed: Slicer
            must restart before grading.
        changed: those packages.
    """

    ready: bool
    message: str = ""
    restart_required: bool = False
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ready


def monai_probe_arguments(report_path, constraints_path, requirement: str = REQUIREMENTS["monai"]) -> list[str]:
    """``pip`` arguments that find, without installing anything, the MONAI pip would install under the
    constraints (its version and ``Requires-Dist`` land in the report)."""
    return ["install", "--dry-run", "--no-deps", "--quiet", "--report", str(report_path), "-c", str(constraints_path),
            requirement]


def monai_from_report(report: dict) -> tuple[str | None, list[str]]:
    """``(version, requires_dist)`` of MONAI in a ``pip install --report`` JSON (``(None, [])`` if absent)."""
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        if str(meta.get("name", "")).lower() == "monai":
            return meta.get("version"), list(meta.get("requires_dist") or [])
    return None, []


def _monai_to_install(installed: dict[str, str], workdir: Path) -> tuple[str | None, list[str]]:
    if "monai" in installed:
        return installed["monai"], list(importlib.metadata.requires("monai") or [])
    constraints = workdir / "constraints-probe.txt"
    constraints.write_text(constraints_text({n: v for n, v in installed.items() if n != "monai"}))
    report = workdir / "monai-report.json"
    done = subprocess.run([python_executable(), "-m", "pip", *monai_probe_arguments(report, constraints)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          **popen_options())
    if done.returncode != 0 or not report.is_file():
        raise RuntimeError("Could not find a MONAI version that fits this Slicer (pip: "
                           f"{done.stdout.strip().splitlines()[-1:] or 'no output'}). Check the network connection "
                           "and the Python console.")
    return monai_from_report(json.loads(report.read_text(encoding="utf-8")))


def _install_torch(requirement: str) -> None:
    try:
        torch_logic = slicer.util.getModuleLogic("PyTorchUtils")
    except Exception:  # noqa: BLE001 - the module is absent, or this Slicer has no such helper
        torch_logic = None
    if torch_logic is None:
        try:
            import PyTorchUtils  # the PyTorch extension's module, where it has no widget yet

            torch_logic = PyTorchUtils.PyTorchUtilsLogic()
        except ImportError:
            raise RuntimeError("PyTorch is not installed. Install the 'PyTorch' extension from the Extensions "
                               "Manager (it picks the right build for your GPU), restart Slicer and retry.") from None
    # PyTorchUtilsLogic.installTorch(askConfirmation, forceComputationBackend, torchVersionRequirement)
    if torch_logic.installTorch(askConfirmation=False, torchVersionRequirement=requirement) is None:
        raise RuntimeError("PyTorch installation failed or was cancelled; see the Python console.")


def ensure_dependencies(ask_confirmation: bool = True) -> InstallOutcome:
    """Make the core's packages importable in Slicer's Python; call before the first grading run.

    Returns an :class:`InstallOutcome` (true when grading can start). Not ready, with ``message`` for the
    panel: Slicer older than 5.10, the user declined, an installed torch that does not fit MONAI, or
    ``restart_required`` (then, with ``ask_confirmation``, the user was also offered a restart).

    Raises:
        RuntimeError: the PyTorch extension is absent, or an installation failed (the message says what to do).
    """
    problem = slicer_version_problem(sys.version_info, getattr(slicer.app, "applicationVersion", None))
    if problem:
        return InstallOutcome(False, problem)
    missing = missing_requirements()
    if not missing:
        return InstallOutcome(True)
    if ask_confirmation and not slicer.util.confirmOkCancelDisplay(install_plan_text(missing)):
        return InstallOutcome(False, "Installation declined: REACT-KD cannot grade without these packages.")
    before = installed_distributions()
    with tempfile.TemporaryDirectory(prefix="reactkd-install-") as tmp:
        monai_version, monai_requires = _monai_to_install(before, Path(tmp))
        requirement = torch_requirement(monai_requires)
        if "torch" in missing:
            log.info("REACTKD: installing torch%s through PyTorchUtils", requirement)
            _install_torch(requirement)
        else:
            problem = torch_problem(before.get("torch"), requirement, monai_version)
            if problem:
                return InstallOutcome(False, problem)
        plan = pip_install_plan(missing, installed_distributions(), monai_version)
        if plan.requirements:
            constraints = Path(tmp) / "constraints.txt"
            constraints.write_text(plan.constraints, encoding="utf-8")
            slicer.util.pip_install(plan.pip_arguments(constraints))
    importlib.invalidate_caches()
    still = missing_requirements()
    if still:
        raise RuntimeError(f"Still missing after installation: {still}. See the Python console for pip's output.")
    changed = changed_imported(before, installed_distributions())
    if changed:
        message = (f"Installed; {', '.join(changed)} changed while Slicer had it loaded: restart Slicer before "
                   "grading.")
        if ask_confirmation and slicer.util.confirmYesNoDisplay(message + " Restart now?"):
            slicer.util.restart()
        return InstallOutcome(False, message, True, changed)
    return InstallOutcome(True, "Installed: " + ", ".join(missing) + ".")
