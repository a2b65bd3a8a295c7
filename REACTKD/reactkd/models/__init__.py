"""Grading networks as compositions (input adapter → backbone → head), their input adapters, specs, CBAM3D
and encoders."""

from reactkd.models.backbones import BackboneOutput, SegResNetBackbone, SwinFusionBackbone
from reactkd.models.cbam import CBAM3D, CBAMSpec
from reactkd.models.encoders import SegResNetEncoder, SwinEncoder
from reactkd.models.factory import build_student, build_teacher
from reactkd.models.grading_net import GradingNet, features_from_batch
from reactkd.models.graph_head import GraphHead, GraphHeadSpec
from reactkd.models.heads import ClassificationHead, GapHeadSpec, HeadSpec, ModelFeatures, build_head
from reactkd.models.inputs import GradingInputs, StudentInputs, TeacherBranch, TeacherInputs
from reactkd.models.region_head import RegionHead, RegionHeadSpec, roi_geometry
from reactkd.models.spec import StudentSpec, TeacherSpec, sharing_teacher, student_spec, teacher_spec
from reactkd.models.student import Student
from reactkd.models.teacher import Teacher

__all__ = [
    "BackboneOutput", "CBAM3D", "CBAMSpec", "ClassificationHead", "GapHeadSpec", "GradingInputs", "GradingNet",
    "GraphHead", "GraphHeadSpec", "HeadSpec", "ModelFeatures", "RegionHead", "RegionHeadSpec", "SegResNetBackbone",
    "SegResNetEncoder", "Student", "StudentInputs", "StudentSpec", "SwinEncoder", "SwinFusionBackbone", "Teacher",
    "TeacherBranch", "TeacherInputs", "TeacherSpec", "build_head", "build_student", "build_teacher",
    "features_from_batch", "roi_geometry", "sharing_teacher", "student_spec", "teacher_spec",
]
