"""Experiment configs: every shipped YAML builds; bad keys and values are refused by name."""

from dataclasses import replace

import pytest
import yaml

from reactkd.config import ConfigError, config_from_mapping, load_config, to_dict
from reactkd.config.shipped import CONFIG_DIR, resolve_config_path, shipped_configs
from reactkd.config.run_dir import prepare_run_dir
from reactkd.distill import DISTILLERS
from reactkd.models import HeadSpec, Teacher, build_student


@pytest.mark.parametrize("name", [n for n in shipped_configs() if not n.startswith("seg-")])  # seg-*: test_seg_train
def test_every_shipped_config_validates_and_builds(name):
    config = load_config(CONFIG_DIR / f"{name}.yaml")
    assert config.distiller.name in DISTILLERS
    teacher = Teacher(replace(config.teacher, feature_size=12))  # the architecture, at a test size
    build_student(teacher, config.student)


def test_shipped_configs_exist():
    assert {"demo-cpu", "paper", "paper-phantom-cpu"} <= set(shipped_configs())
    paper_size = load_config(CONFIG_DIR / "paper-phantom-cpu.yaml")
    assert paper_size.data.phantom_patients == 97 and paper_size.data.manifest is None  # the paper's cohort size
    assert paper_size.student.deploy.value == "ct" and paper_size.student.head.norm.value == "batch"
    assert resolve_config_path("demo-cpu").name == "demo-cpu.yaml"
    with pytest.raises(FileNotFoundError, match=r"nor a shipped config: \[.*'demo-cpu'"):
        resolve_config_path("nope")


def test_unknown_key_suggests_closest():
    with pytest.raises(ConfigError, match=r"unknown config key `stage1.epoch`.*Did you mean `stage1.epochs`\?"):
        config_from_mapping({"stage1": {"epoch": 3}})


@pytest.mark.parametrize("data, message", [
    ({"device": "tpu"}, r"`device` must be one of \['auto', 'cpu', 'cuda'\], got 'tpu'"),
    ({"precision": "fp8"}, r"`precision` must be one of \['fp32', 'bf16', 'fp16', 'auto'\]"),
    ({"stage2": {"batch_size": 0}}, r"`stage2.batch_size` must be >= 1, got 0"),
    ({"stage1": {"epochs": "ten"}}, r"`stage1.epochs` must be an integer, got 'ten'"),
    ({"modality_dropout": 1.5}, r"`student.modality_dropout` must be in \[0, 1\)"),
    ({"student": {"modality_dropout": 1.5}}, r"`student.modality_dropout` must be in \[0, 1\)"),
    ({"teacher": {"fusion_level": 7}}, r"`teacher.fusion_level` must be in 0..4, got 7"),
    ({"teacher": {"head": {"kind": "region", "sources": ["level9"]}}}, r"`teacher.head.sources` must be encoder levels"),
    ({"teacher": {"branches": ["pet", "dose"]}}, r"`teacher.branches\[0\]` must be one of \['pet_ct', 'dose'\]"),
    ({"student": {"fusion_channels": 64}}, r"`student.fusion_channels` \(64\) must equal `teacher.fusion_channels` \(128\)"),
    ({"distiller": {"name": "reactkdd"}}, r"`distiller.name` must be one of .* Did you mean 'reactkd'"),
    ({"distiller": {"kwargs": {"gw_weigth": 1.0}}}, r"unknown config key `distiller.kwargs.gw_weigth`.*Did you mean `distiller.kwargs.gw_weight`"),
    ({"data": {"dose_level": "extreme"}}, r"`data.dose_level`: `dose` must be one of"),
    ({"data": {"preprocess": {"grid": 3}}}, r"`data.preprocess`: unknown preprocessing key"),
    ({"distiller": {"name": "reactkd", "weights": {}}}, r"unknown config key `distiller.weights`; allowed here: \['name', 'kwargs', 'teachers'\]"),
    ({"distiller": {"name": "mtcmkd", "teachers": [["pet_ct"]]}}, r"`distiller.teachers\[0\]` must be a mapping"),
    ({"distiller": {"name": "mtcmkd", "teachers": [{"branches": ["ct"]}]}}, r"`distiller.teachers\[0\].branches\[0\]` must be one of"),
])
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(data)


def test_overrides_and_round_trip():
    config = config_from_mapping({"stage1": {"epochs": 3}}, ["stage1.epochs=5", "teacher.feature_size=24"])
    assert config.stage1.epochs == 5 and config.teacher.feature_size == 24
    assert config_from_mapping(yaml.safe_load(yaml.safe_dump(to_dict(config)))) == config
    with pytest.raises(ConfigError, match="must look like `key.path=value`"):
        config_from_mapping({}, ["stage1.epochs"])


def test_run_dir_refuses_another_experiment(tmp_path):
    a, b = config_from_mapping({"name": "a"}), config_from_mapping({"name": "b"})
    prepare_run_dir(a, tmp_path / "run")
    prepare_run_dir(a, tmp_path / "run")  # same experiment: resume
    with pytest.raises(ConfigError, match="holds a run of a different config"):
        prepare_run_dir(b, tmp_path / "run")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="is not empty and is not a REACTKD run"):
        prepare_run_dir(a, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_run_dir_written_by_an_older_version_resumes(tmp_path):
    """A config.yaml that lacks a field added later (its default applies) or differs only in a logging
    switch is the same experiment; a trained difference is not."""
    a = config_from_mapping({"name": "a"})
    older = to_dict(a)
    del older["stage2"]["tensorboard"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(older))
    prepare_run_dir(a, tmp_path / "run")
    prepare_run_dir(config_from_mapping({"name": "a", "stage1": {"tensorboard": True}}), tmp_path / "run")
    with pytest.raises(ConfigError, match="holds a run of a different config"):
        prepare_run_dir(config_from_mapping({"name": "a", "stage1": {"epochs": 3}}), tmp_path / "run")
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == older, "the saved config is kept"


def test_config_of_an_earlier_version_is_the_same_experiment(tmp_path):
    """Flat network keys (``head: region``, ``head_levels``, ``use_cbam``), the top-level ``modality_dropout``
    and the unused ``lesion_crop_size`` of earlier versions load as the typed sections they meant."""
    old = {"name": "a", "modality_dropout": 0.2, "data": {"preprocess": {"grid_size": 32, "lesion_crop_size": 16}},
           "teacher": {"feature_size": 12, "head": "region", "head_levels": [0], "use_cbam": False},
           "student": {"pet_channels": 2, "head": "region", "head_levels": [0], "head_geometry": True}}
    config = config_from_mapping(old)
    assert config.student.modality_dropout == 0.2 and config.data.preprocess == {"grid_size": 32}
    assert config.teacher.head == HeadSpec(kind="region", sources=["fused", "level0"]) and not config.teacher.cbam.enabled
    assert config.student.head == HeadSpec(kind="region", sources=["fused", "level0"], geometry=True)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(old))
    prepare_run_dir(config, tmp_path / "run")  # resumes: the same experiment
