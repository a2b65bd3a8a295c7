"""Import slicer-core's ``slicer`` for the tests, or skip the calling test module with the reason.

slicer-core's ``slicer`` is a namespace-style package (``pkgutil.extend_path``) that imports every module
of every ``slicer/`` folder on ``sys.path`` — this test folder is one when ``Testing/`` is on the path
(pytest puts it there for Testing/conftest.py). So it is imported with this folder hidden.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def import_slicer_core():
    """``(slicer module, None)`` or ``(None, reason it cannot be used)``."""
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if (Path(p or ".").resolve() / "slicer") != HERE]
    try:
        import slicer
    except ImportError as err:
        return None, (f"slicer-core is not installed ({err}); pip install 'slicer-core>=5.13' 'vtk==9.6.2' "
                      "(the test extra)")
    finally:
        sys.path[:] = saved
    if not hasattr(slicer, "vtkMRMLScene"):
        return None, "the importable `slicer` is not slicer-core's (no vtkMRMLScene)"
    return slicer, None


def require_slicer():
    """slicer-core's ``slicer``; in a test module without it, skips the whole module with the reason."""
    import pytest

    slicer, reason = import_slicer_core()
    if slicer is None:
        pytest.skip(reason, allow_module_level=True)
    return slicer
