"""REACT-KD core: data layer, models, distillation, training and evaluation.

This package never imports ``slicer``, ``qt`` or ``ctk``; it runs in plain Python and inside 3D Slicer.
"""

__version__ = "0.1.0"

GRADES = (1, 2, 3)
"""Edmondson–Steiner grades as written in files and reports; tensors use class indices 0, 1, 2."""
