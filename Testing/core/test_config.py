"""Experiment configs: every shipped YAML builds; bad keys and values are refused by name."""

import pytest
import yaml

from reactkd.config import ConfigError, config_from_mapping, load_config, to_dict
from reactkd.config.shipped import CONFIG_DIR, resolve_config_path, shipped_configs
from reactkd.train.experiment import prepare_run_dir


@pytest.mark.parametrize("name", [n for n in shipped_configs() if not n.startswith("seg-")])  # seg-*: test_seg_train
def test_every_shipped_config_validates_and_builds(name):
    config = load_config(CONFIG_DIR / f"{name}.yaml")
    from reactkd.distill import DISTILLERS
    from reactkd.models import build_student, build_teacher

    assert config.distiller["name"] in DISTILLERS
    teacher = build_teacher(**{**config.teacher, "feature_size": 12})  # the architecture, at a test size
    build_student(teacher=teacher, **config.student)


def test_shipped_configs_exist():
    assert {"demo-cpu", "paper"} <= set(shipped_configs())
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
    ({"modality_dropout": 1.5}, r"`modality_dropout` must be in \[0, 1\)"),
    ({"data": {"dose_level": "extreme"}}, r"`data.dose_level`: `dose` must be one of"),
    ({"data": {"preprocess": {"grid": 3}}}, r"`data.preprocess`: unknown preprocessing key"),
    ({"distiller": {"name": "reactkd", "weights": {}}}, r"`distiller` must be a mapping with only `name`, `kwargs` and `teachers`"),
    ({"distiller": {"name": "mtcmkd", "teachers": [["pet_ct"]]}}, r"`distiller.teachers` must be a non-empty list of mappings"),
])
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(data)


def test_overrides_and_round_trip():
    config = config_from_mapping({"stage1": {"epochs": 3}}, ["stage1.epochs=5", "teacher.feature_size=24"])
    assert config.stage1.epochs == 5 and config.teacher == {"feature_size": 24}
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
