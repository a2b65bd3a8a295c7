"""Liver and tumour segmentation distilled with ReCo-KD: a large MONAI teacher → a compact student.

References:
    ReCo-KD: Region- and Context-aware Knowledge Distillation for efficient 3D medical image
    segmentation (2026). MONAI (Cardoso et al., 2022): SegResNet, SwinUNETR, DiceLoss, DiceMetric,
    HausdorffDistanceMetric, sliding_window_inference.
"""

from reactkd.segment.classes import SEG_CLASSES
from reactkd.segment.models import SegFeatures, SegNet, build_seg_student, student_kwargs

__all__ = ["SEG_CLASSES", "SegFeatures", "SegNet", "build_seg_student", "student_kwargs"]
