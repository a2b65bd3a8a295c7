"""Models: CBAM3D, the dual-branch Swin teacher, the SegResNet student, modality dropout, factories."""

from .cbam import CBAM3D
from .encoders import SegResNetEncoder, SwinEncoder
from .factory import MODELS, build_model, build_student, build_teacher
from .heads import ClassificationHead, FeatureProjection, ModelFeatures
from .batch import features_from_batch
from .modality import ModalityDropout, check_modality_mask, default_modality_mask
from .region_head import HeadKind, RegionHead
from .registry import Registry
from .student import Student
from .teacher import Teacher, TeacherBranch

__all__ = [
    "CBAM3D",
    "ClassificationHead",
    "FeatureProjection",
    "HeadKind",
    "RegionHead",
    "features_from_batch",
    "MODELS",
    "ModalityDropout",
    "ModelFeatures",
    "Registry",
    "SegResNetEncoder",
    "Student",
    "SwinEncoder",
    "Teacher",
    "TeacherBranch",
    "build_model",
    "build_student",
    "build_teacher",
    "check_modality_mask",
    "default_modality_mask",
]
