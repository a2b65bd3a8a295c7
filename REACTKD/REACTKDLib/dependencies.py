"""Python packages the core needs inside Slicer, and how to install them without breaking Slicer.

What goes wrong in Slicer AI extensions (MONAIAuto3DSeg, TotalSegmentator issue trackers): pip pulling a
CUDA build of torch that does not match the machine, and pip replacing packages Slicer ships and its own
code relies on (SimpleITK, VTK and numpy, built together with Slicer; pydicom, which Slicer's DICOM
plugins call; pillow, requests …). Hence:

- **pip may add, never replace.** Every distribution installed in Slicer's Python is a constraint
  ``name==version`` (:func:`installed_distributions`, :func:`constraints_text`), so pip resolves the
  missing packages around what is there: with Slicer 5.10's pydicom 2.4.4 pinned, ``highdicom>=0.22``
  resolves to a highdicom that still reads pydicom 2 (0.22.0) instead of pulling pydicom 3.
- **torch comes from the PyTorch extension** (``PyTorchUtils``, which picks the build for the machine's
  GPU), with a version requirement that the MONAI to be installed accepts (:func:`torch_requirement`,
  read from MONAI's own ``Requires-Dist``); a torch already there is checked against it
  (:func:`torch_problem`).
- **A restart when something loaded changed** (:func:`changed_imported`): a package whose modules are
  already imported in Slicer's process keeps running its old code until Slicer restarts.

:func:`pip_install_plan` is pure: it returns the exact arguments given to pip, so the test that resolves
them against Slicer 5.10's package list (``pip install --dry-run --report``) checks what the module runs.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from dataclasses import dataclass

__all__ = ["REQUIREMENTS", "NEVER_INSTALL", "PipPlan", "canonical_name", "requirement_name", "missing_requirements",
           "pip_requirements", "installed_distributions", "constraints_text", "pip_install_plan", "pip_constraints",
           "torch_requirement", "torch_problem", "changed_imported", "install_plan_text"]

REQUIREMENTS = {
    # import name: pip requirement (mirrors pyproject.toml's dependencies; a test keeps them in step)
    "torch": "torch>=2.3",
    "monai": "monai>=1.4",
    "einops": "einops>=0.7",
    "ot": "pot>=0.9.5",
    "slicerio": "slicerio>=1.1",
    "pydicom": "pydicom>=2.4",
    "highdicom": "highdicom>=0.22",
    "scipy": "scipy>=1.10",
    "skimage": "scikit-image>=0.21",
    "sklearn": "scikit-learn>=1.3",
    "yaml": "pyyaml>=6",
    "tqdm": "tqdm>=4.66",
    "matplotlib": "matplotlib>=3.7",
    "markdown": "markdown>=3.4",
    "nibabel": "nibabel>=5",
    "psutil": "psutil>=5.9",  # the Slicer side: stops a run's whole process tree (REACTKDLib.process)
}
NEVER_INSTALL = ("simpleitk", "vtk", "numpy")
"""Slicer ships these (built together with its VTK/ITK); pip must not replace them, nor be asked for them."""


def canonical_name(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``PyYAML`` → ``pyyaml``, ``typing_extensions``
    → ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The canonical distribution name of a requirement string (``scikit-image>=0.21`` → ``scikit-image``)."""
    return canonical_name(re.split(r"[<>=!~;\[ (]", requirement.strip(), maxsplit=1)[0])


def missing_requirements(find_spec=importlib.util.find_spec) -> list[str]:
    """Import names of :data:`REQUIREMENTS` that cannot be imported (nothing is imported to find out)."""
    return [name for name in REQUIREMENTS if find_spec(name) is None]


def pip_requirements(missing: list[str]) -> list[str]:
    """pip requirement strings for the missing packages except torch (installed through PyTorchUtils,
    or by the user: a pip-resolved torch is the multi-GB CUDA build whatever the machine)."""
    reqs = [REQUIREMENTS[m] for m in missing if m != "torch"]
    return [r for r in reqs if requirement_name(r) not in NEVER_INSTALL]


def installed_distributions(distributions=importlib.metadata.distributions) -> dict[str, str]:
    """``{canonical name: version}`` of every distribution installed in this Python; where a name is
    installed twice, the one found first on ``sys.path`` (the one Python imports) counts."""
    found: dict[str, str] = {}
    for dist in distributions():
        name, version = dist.metadata["Name"], dist.version
        if name and version and canonical_name(name) not in found:
            found[canonical_name(name)] = version
    return found


_VERSION = re.compile(r"^\s*v?(\d+!)?\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[a-z0-9.]+)?\s*$", re.I)


def constraints_text(installed: dict[str, str]) -> str:
    """A pip constraints file pinning every installed distribution to its version (``name==version``, one a
    line, sorted): pip may then add packages but never replace one. Versions pip cannot parse are left out
    (pip could not pin them anyway)."""
    lines = [f"{name}=={version}" for name, version in sorted(installed.items()) if _VERSION.match(version)]
    return "\n".join(lines) + ("\n" if lines else "")


def pip_constraints() -> str:
    """The constraints of this Python's installed distributions (see :func:`constraints_text`)."""
    return constraints_text(installed_distributions())


@dataclass
class PipPlan:
    """What pip is asked to do: ``requirements`` resolved under ``constraints`` (a constraints file's text).

    :meth:`pip_arguments` is the argument list after ``pip install`` (what ``slicer.util.pip_install``
    receives), given where the constraints file was written."""

    requirements: list[str]
    constraints: str

    def pip_arguments(self, constraints_path) -> list[str]:
        return [*self.requirements, "-c", str(constraints_path)]


def pip_install_plan(missing: list[str], installed: dict[str, str], monai_version: str | None = None) -> PipPlan:
    """The pip step of the installation: the missing packages (torch excluded, see
    :func:`pip_requirements`) constrained by every installed distribution.

    ``monai_version``: pin MONAI to the version whose torch requirement torch was installed for (see
    :func:`torch_requirement`), so pip cannot pick another one.
    """
    reqs = pip_requirements(missing)
    if monai_version:
        reqs = [f"monai=={monai_version}" if requirement_name(r) == "monai" else r for r in reqs]
    installed = {n: v for n, v in installed.items() if n not in {requirement_name(r) for r in reqs}}
    return PipPlan(reqs, constraints_text(installed))


def _specifier(requirement: str) -> str:
    return requirement.strip()[len(re.split(r"[<>=!~ (]", requirement.strip(), maxsplit=1)[0]):].strip(" ()")


def torch_requirement(monai_requires: list[str] | None = None, own: str = REQUIREMENTS["torch"]) -> str:
    """The version specifier torch must satisfy (e.g. ``>=2.3,>=2.4.1``): REACTKD's own and the one in
    MONAI's ``Requires-Dist`` (``importlib.metadata.requires("monai")`` or pip's report of the MONAI to be
    installed). Requirements under an ``extra`` or a marker that does not hold here are ignored."""
    from packaging.requirements import InvalidRequirement, Requirement

    specs = [_specifier(own)]
    for text in monai_requires or []:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if canonical_name(req.name) != "torch" or not str(req.specifier):
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        specs.append(str(req.specifier))
    return ",".join(dict.fromkeys(s for s in specs if s))


def torch_problem(installed_version: str | None, requirement: str, monai_version: str | None = None) -> str | None:
    """One line when an installed torch does not satisfy ``requirement`` (what to do included); ``None``
    when it does or when no torch is installed."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    if not installed_version:
        return None
    try:
        fits = SpecifierSet(requirement).contains(Version(installed_version), prereleases=True)
    except InvalidVersion:
        fits = False
    if fits:
        return None
    who = f"MONAI {monai_version}" if monai_version else "REACT-KD"
    return (f"PyTorch {installed_version} is installed, but {who} needs torch{requirement}: open the 'PyTorch Utils' "
            "module, uninstall PyTorch, restart Slicer and press Apply again (REACT-KD then installs a fitting "
            "version).")


def changed_imported(before: dict[str, str], after: dict[str, str], modules=None, packages=None) -> list[str]:
    """Distributions (canonical names) whose version changed or that were removed between ``before`` and
    ``after`` (:func:`installed_distributions`) and one of whose top-level modules is imported in this
    process: those keep running their old code until Slicer restarts.

    ``modules``: ``sys.modules``; ``packages``: ``importlib.metadata.packages_distributions()`` (top-level
    module → distribution names).
    """
    modules = sys.modules if modules is None else modules
    packages = importlib.metadata.packages_distributions() if packages is None else packages
    by_dist: dict[str, set[str]] = {}
    for module, dists in packages.items():
        for dist in dists:
            by_dist.setdefault(canonical_name(dist), set()).add(module)
    changed = [name for name, version in before.items() if after.get(name) != version]
    return sorted(name for name in changed if any(m in modules for m in by_dist.get(name, ())))


def install_plan_text(missing: list[str]) -> str:
    """What will be installed, in words, for the confirmation dialog."""
    parts = []
    if "torch" in missing:
        parts.append("PyTorch (through the PyTorch extension, which picks the build for your GPU or CPU)")
    reqs = pip_requirements(missing)
    if reqs:
        parts.append("with pip: " + ", ".join(reqs))
    return ("REACT-KD needs Python packages that are not installed yet:\n  - " + "\n  - ".join(parts) +
            "\nEvery package Slicer already has stays as it is (pip may only add packages). This may take "
            "several minutes. Install now?")
