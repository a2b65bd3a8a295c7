"""Liver and tumour segmentation distilled with ReCo-KD: a large MONAI teacher → a compact student.

The whole product lives here and imports only downward (io, preprocess, cohort, losses, the registry, the
generic training loop, the config machinery); nothing outside it but its two commands imports it:

- :mod:`~reactkd.segment.config`: the ``seg-distill`` YAML (schema, loader, run identity);
- :mod:`~reactkd.segment.models`: MONAI networks with named feature taps, the width-scaled student;
- :mod:`~reactkd.segment.losses`, :mod:`~reactkd.segment.distill`: Dice + CE and the ReCo-KD distillers
  (``SEG_DISTILLERS``: ``seg_ms_sard``, ``seg_ms_ca``, ``seg_reco``) built on the shared MS-SARD/MS-CA losses
  of :mod:`reactkd.losses`;
- :mod:`~reactkd.segment.preprocess`, :mod:`~reactkd.segment.data`: mask-free grid, cached volumes, patches;
- :mod:`~reactkd.segment.train`, :mod:`~reactkd.segment.experiment`: the two stages and the run folder;
  :mod:`~reactkd.segment.controls`: the control students trained beside the distilled one (``alone``);
- :mod:`~reactkd.segment.inference`, :mod:`~reactkd.segment.postprocess`, :mod:`~reactkd.segment.writer`,
  :mod:`~reactkd.segment.metrics`, :mod:`~reactkd.segment.report`: segmenting a CT, masks, the held-out table.

References:
    ReCo-KD: Region- and Context-aware Knowledge Distillation for efficient 3D medical image
    segmentation (2026). MONAI (Cardoso et al., 2022): SegResNet, SwinUNETR, DiceLoss, DiceMetric,
    HausdorffDistanceMetric, sliding_window_inference.
"""

from reactkd.segment.classes import SEG_CLASSES
from reactkd.segment.config import SegExperimentConfig, load_seg_config, seg_config_from_mapping
from reactkd.segment.distill import SEG_DISTILLERS, SegDistiller, build_seg_distiller
from reactkd.segment.models import SegFeatures, SegNet, build_seg_student, student_kwargs

__all__ = ["SEG_CLASSES", "SEG_DISTILLERS", "SegDistiller", "SegExperimentConfig", "SegFeatures", "SegNet",
           "build_seg_distiller", "build_seg_student", "load_seg_config", "seg_config_from_mapping", "student_kwargs"]
