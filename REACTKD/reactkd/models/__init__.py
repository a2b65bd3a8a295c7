"""Grading networks as compositions (input adapter → backbone → head), their specs, CBAM3D, encoders."""

from reactkd.models.backbones import BackboneOutput, SegResNetBackbone, SwinFusionBackbone
from reactkd.models.cbam import CBAM3D
from reactkd.models.encoders import SegResNetEncoder, SwinEncoder
from reactkd.models.factory import build_student, build_teacher
from reactkd.models.grading_net import GradingNet, features_from_batch
from reactkd.models.graph_head import GraphHead
from reactkd.models.heads import HEADS, ClassificationHead, ModelFeatures, build_head
from reactkd.models.region_head import RegionHead, roi_geometry
from reactkd.models.registry import Registry
from reactkd.models.spec import (
                                 CBAMSpec,
                                 HeadKind,
                                 HeadSpec,
                                 StudentSpec,
                                 TeacherSpec,
                                 standalone_student_spec,
                                 student_spec,
                                 teacher_spec,
                                 upgrade_network_keys,
)
from reactkd.models.student import Student
from reactkd.models.teacher import Teacher

__all__ = [
    "BackboneOutput", "CBAM3D", "CBAMSpec", "ClassificationHead", "GradingNet", "GraphHead", "HEADS", "HeadKind", "HeadSpec",
    "ModelFeatures", "RegionHead", "Registry", "SegResNetBackbone", "SegResNetEncoder", "Student", "StudentSpec",
    "SwinEncoder", "SwinFusionBackbone", "Teacher", "TeacherSpec", "build_head", "build_student", "build_teacher",
    "features_from_batch", "roi_geometry", "standalone_student_spec", "student_spec", "teacher_spec",
    "upgrade_network_keys",
]
