"""The Qt-facing parts of the REACTKD and REACTKDTrainer panels, one small class per panel (each wired to
its widgets of the module's ``.ui`` and given the module's logic), the settings they keep, and the
modules' in-Slicer self-tests.

Layers import one way: the module files (``REACTKD.py``, ``REACTKDTrainer.py``: module, parameter node,
the widget that composes these panels, thin logic) → ``REACTKDGui`` → ``REACTKDLib`` (Qt-free, MRML only,
tested with slicer-core) → the ``reactkd`` core, which runs in a separate process. The module files import
this package only on Python 3.10 or newer (Slicer 5.10+): on Slicer 5.8 their panels say why they cannot
run instead.
"""
