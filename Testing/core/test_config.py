"""Experiment configs: every shipped YAML builds; bad keys and values are refused by name."""

from dataclasses import replace

import pytest
import yaml

from reactkd.config import ConfigError, config_from_mapping, load_config, to_dict
from reactkd.config.run_dir import prepare_run_dir, read_run_info
from reactkd.config.shipped import CONFIG_DIR, resolve_config_path, shipped_configs
from reactkd.distill import DISTILLERS
from reactkd.models import Teacher, build_student
from reactkd.utils.formats import CONFIG_FORMAT, FormatError


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
    assert paper_size.stage2.deploy.value == "ct" and paper_size.student.head.norm.value == "batch"
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
    ({"modality_dropout": 0.5}, r"unknown config key `modality_dropout`; allowed here: \['format', 'name'"),
    ({"student": {"modality_dropout": 1.5}}, r"`student.modality_dropout` must be in \[0, 1\)"),
    ({"teacher": {"fusion_level": 7}}, r"`teacher.fusion_level` must be in 0..4, got 7"),
    ({"teacher": {"head": {"kind": "region", "sources": ["level9"]}}},
     r"`teacher.head.sources` must be encoder levels"),
    ({"teacher": {"branches": ["pet", "dose"]}}, r"`teacher.branches\[0\]` must be one of \['pet_ct', 'dose'\]"),
    ({"student": {"fusion_channels": 64}},
     r"`student.fusion_channels` \(64\) must equal `teacher.fusion_channels` \(128\)"),
    ({"student": {"cbam": None}},
     r"`student.cbam` \(None\) must equal `teacher.cbam` \(\{'reduction': 8, 'kernel': 7\}\)"),
    ({"student": {"head": {"kind": "region", "hidden": 8}}},
     r"^unknown config key `student.head.hidden` for `kind: region` \(a key of `kind: graph`\); "
     r"allowed: \['kind', 'sources'"),
    ({"student": {"head": {"kind": "gap", "geometry": True}}},
     r"unknown config key `student.head.geometry` for `kind: gap`"),
    ({"teacher": {"head": "region"}}, r"`teacher.head` must be a mapping with `kind`, got str: 'region'"),
    ({"teacher": {"head": {"sources": ["fused"]}}},
     r"`teacher.head.kind` must be one of \['gap', 'graph', 'region'\], got none"),
    ({"stage2": {"deploy": "mri"}}, r"`stage2.deploy` must be one of \['pet_ct', 'ct'\], got 'mri'"),
    ({"stage1": {"deploy": "ct"}}, r"unknown config key `stage1.deploy`"),
    ({"student": {"deploy": "ct"}}, r"unknown config key `student.deploy`"),
    ({"distiller": {"name": "reactkdd"}}, r"`distiller.name` must be one of .* Did you mean 'reactkd'"),
    ({"distiller": {"kwargs": {"gw_weigth": 1.0}}},
     r"unknown config key `distiller.kwargs.gw_weigth`.*Did you mean `distiller.kwargs.gw_weight`"),
    ({"data": {"dose_level": "extreme"}}, r"`data.dose_level`: `dose` must be one of"),
    ({"data": {"preprocess": {"grid": 3}}}, r"`data.preprocess`: unknown preprocessing key"),
    ({"distiller": {"name": "reactkd", "weights": {}}},
     r"unknown config key `distiller.weights`; allowed here: \['name', 'kwargs', 'teachers'\]"),
    ({"distiller": {"name": "mtcmkd", "teachers": [["pet_ct"]]}}, r"`distiller.teachers\[0\]` must be a mapping"),
    ({"distiller": {"name": "mtcmkd", "teachers": [{"branches": ["ct"]}]}},
     r"`distiller.teachers\[0\].branches\[0\]` must be one of"),
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


def test_run_dir_whose_config_lacks_a_later_default_resumes(tmp_path):
    """Within one format, a config.yaml that lacks a field added later (its default applies) or differs only
    in a logging switch is the same experiment; a trained difference is not."""
    a = config_from_mapping({"name": "a"})
    prepare_run_dir(a, tmp_path / "run")
    older = to_dict(a)
    del older["stage2"]["tensorboard"]
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(older))
    prepare_run_dir(a, tmp_path / "run")
    prepare_run_dir(config_from_mapping({"name": "a", "stage1": {"tensorboard": True}}), tmp_path / "run")
    with pytest.raises(ConfigError, match="holds a run of a different config"):
        prepare_run_dir(config_from_mapping({"name": "a", "stage1": {"epochs": 3}}), tmp_path / "run")
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == older, "the saved config is kept"
    info = read_run_info(tmp_path / "run")
    assert (info["format"], info["kind"]) == ("reactkd-run-2", "grading")
    assert set(info) == {"format", "kind", "reactkd_version", "commit", "created", "machine"}


def test_files_of_an_older_format_are_refused_with_the_way_forward(tmp_path):
    """A config file without ``format`` (version 1: flat head keys, ``student.deploy``) is refused in one line
    naming its version and what to do; so is a run folder without ``run.json``. Nothing is translated."""
    old = {"name": "a", "teacher": {"head": "region", "head_levels": [0]}, "student": {"deploy": "ct"}}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    with pytest.raises(FormatError, match=r"^.*old.yaml: it is reactkd-config-1 \(it declares no format\); this "
                                          r"reactkd reads reactkd-config-2: rewrite it in the current shape .* add "
                                          r"`format: reactkd-config-2`\.$"):
        load_config(tmp_path / "old.yaml")
    with pytest.raises(FormatError, match="'reactkd-config-1'; this reactkd reads reactkd-config-2"):
        config_from_mapping({"format": "reactkd-config-1"})
    with pytest.raises(FormatError, match="'reactkd-config-3', not a format this reactkd reads .* newer reactkd"):
        config_from_mapping({"format": "reactkd-config-3"})
    (tmp_path / "new.yaml").write_text(yaml.safe_dump({"format": CONFIG_FORMAT, "name": "a"}))
    assert load_config(tmp_path / "new.yaml").name == "a"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(old))
    with pytest.raises(FormatError, match=r"run folder .*run is reactkd-run-1 \(it declares no format\); this "
                                          r"reactkd reads reactkd-run-2: train it again into a new folder"):
        prepare_run_dir(config_from_mapping({"name": "a"}), tmp_path / "run")
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text()) == old, "nothing in it changed"
