"""The grading experiment's config: one YAML file per experiment, validated key by key.

Every default lives in the dataclasses (here, in :mod:`reactkd.config.schema` and in the component specs);
an experiment YAML overrides only what differs; ``--set key.path=value`` overrides on the command line;
the resolved config is written beside every run's results. The network sections are typed specs
(``teacher``: :class:`~reactkd.models.spec.TeacherSpec`, ``student``: :class:`~reactkd.models.spec.StudentSpec`,
``distiller``: :class:`~reactkd.distill.spec.DistillerSpec`); a config never imports code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reactkd.config.schema import DataConfig, Device, Precision, StudentStageConfig, TeacherStageConfig
from reactkd.distill.spec import DistillerSpec
from reactkd.models.spec import StudentSpec, TeacherSpec
from reactkd.utils.formats import CONFIG_FORMAT

__all__ = ["ExperimentConfig"]


@dataclass
class ExperimentConfig:
    """``format`` is the config's format version (:data:`~reactkd.utils.formats.CONFIG_FORMAT`); a file
    must state it, and one of another version is refused (:func:`reactkd.config.load.load_config`)."""

    format: str = CONFIG_FORMAT
    name: str = "experiment"
    seed: int = 0
    device: Device = Device.AUTO
    precision: Precision = Precision.FP32
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherSpec = field(default_factory=TeacherSpec)
    student: StudentSpec = field(default_factory=StudentSpec)
    stage1: TeacherStageConfig = field(default_factory=TeacherStageConfig)
    stage2: StudentStageConfig = field(default_factory=StudentStageConfig)
    distiller: DistillerSpec = field(default_factory=DistillerSpec)
