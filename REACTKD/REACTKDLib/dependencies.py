"""Python packages the core needs inside Slicer, and how to install them without breaking Slicer.

What goes wrong in Slicer AI extensions (MONAIAuto3DSeg, TotalSegmentator issue trackers): pip pulling
a CUDA build of torch that does not match the machine, and pip replacing Slicer's own SimpleITK, VTK or
numpy (Slicer's VTK and ITK are built against them). Hence: torch comes from the PyTorch extension's
``PyTorchUtils`` (which picks the build for the machine's CUDA) when it is present; the other packages
are installed with a constraints file that pins whatever SimpleITK and numpy Slicer already has, and
SimpleITK / VTK are never requested.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re

__all__ = ["REQUIREMENTS", "NEVER_INSTALL", "missing_requirements", "pip_requirements", "pip_constraints",
           "install_plan_text"]

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
}
NEVER_INSTALL = ("simpleitk", "vtk", "numpy")
"""Slicer ships these (built together with its VTK/ITK); pip must not replace them."""


def missing_requirements(find_spec=importlib.util.find_spec) -> list[str]:
    """Import names of :data:`REQUIREMENTS` that cannot be imported (nothing is imported to find out)."""
    return [name for name in REQUIREMENTS if find_spec(name) is None]


def pip_requirements(missing: list[str]) -> list[str]:
    """pip requirement strings for the missing packages except torch (installed through PyTorchUtils,
    or by the user: a pip-resolved torch is the multi-GB CUDA build whatever the machine)."""
    reqs = [REQUIREMENTS[m] for m in missing if m != "torch"]
    return [r for r in reqs if re.split(r"[<>=!~ ]", r, maxsplit=1)[0].lower() not in NEVER_INSTALL]


def pip_constraints(version=importlib.metadata.version) -> str:
    """Contents of a pip constraints file pinning the installed SimpleITK and numpy (when pip knows them),
    so no dependency upgrades them."""
    lines = []
    for dist in ("SimpleITK", "numpy"):
        try:
            lines.append(f"{dist}=={version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return "\n".join(lines) + ("\n" if lines else "")


def install_plan_text(missing: list[str]) -> str:
    """What will be installed, in words, for the confirmation dialog."""
    parts = []
    if "torch" in missing:
        parts.append("PyTorch (through the PyTorch extension, which picks the build for your GPU or CPU)")
    reqs = pip_requirements(missing)
    if reqs:
        parts.append("with pip: " + ", ".join(reqs))
    return ("REACT-KD needs Python packages that are not installed yet:\n  - " + "\n  - ".join(parts) +
            "\nSlicer's own SimpleITK, VTK and numpy are kept. This may take several minutes. Install now?")
