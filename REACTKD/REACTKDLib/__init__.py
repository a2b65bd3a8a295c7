"""MRML-facing helpers of the REACTKD Slicer extension.

Small functions taking an MRML scene or nodes; they never touch ``slicer.app``, ``slicer.mrmlScene``,
``qt`` or ``ScriptedLoadableModule``, so they run under pytest with the PyPI package ``slicer-core``
(Testing/slicer) as well as inside 3D Slicer. The panels (``REACTKDGui``) and the module files' logic
(REACTKD.py, REACTKDTrainer.py) are thin adapters that pass ``slicer.mrmlScene`` in; nothing here imports
them. The ML core (``reactkd``) is never imported here: it runs through its command line, in a separate
process.
"""
