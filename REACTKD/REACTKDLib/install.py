"""Install the core's missing packages from inside Slicer, after asking (the plan is in :mod:`.dependencies`).

torch comes from the PyTorch extension's ``PyTorchUtils``, which picks the build for the machine's CUDA;
the rest through ``slicer.util.pip_install`` with a constraints file that pins Slicer's own SimpleITK and
numpy. Needs a running Slicer (imports ``slicer`` when called).
"""

from __future__ import annotations

import importlib
import os
import tempfile

from REACTKDLib.dependencies import install_plan_text, missing_requirements, pip_constraints, pip_requirements

__all__ = ["ensure_dependencies"]


def ensure_dependencies(ask_confirmation: bool = True) -> bool:
    """Install what is missing; returns False if the user declined, True once everything imports.

    Raises:
        RuntimeError: the PyTorch extension is absent, or an installation failed (the message says what to do).
    """
    import slicer

    missing = missing_requirements()
    if not missing:
        return True
    if ask_confirmation and not slicer.util.confirmOkCancelDisplay(install_plan_text(missing)):
        return False
    if "torch" in missing:
        _install_torch()
    requirements = pip_requirements(missing)
    if requirements:
        fd, constraints = tempfile.mkstemp(suffix=".txt", prefix="reactkd-constraints-")
        with os.fdopen(fd, "w") as f:
            f.write(pip_constraints())
        try:
            slicer.util.pip_install(requirements + ["-c", constraints])
        finally:
            os.unlink(constraints)
    importlib.invalidate_caches()
    still = missing_requirements()
    if still:
        raise RuntimeError(f"Still missing after installation: {still}. See the Python console for pip's output.")
    return True


def _install_torch() -> None:
    try:
        import PyTorchUtils
    except ImportError:
        raise RuntimeError("PyTorch is not installed. Install the 'PyTorch' extension from the Extensions "
                           "Manager (it picks the right build for your GPU), restart Slicer and retry.") from None
    torch_logic = PyTorchUtils.PyTorchUtilsLogic()
    if not torch_logic.torchInstalled() and torch_logic.installTorch(askConfirmation=False) is None:
        raise RuntimeError("PyTorch installation failed or was cancelled; see the Python console.")
