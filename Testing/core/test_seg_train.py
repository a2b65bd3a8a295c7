"""seg-distill: its config, its run folder, its early refusal of wrong distiller kwargs, and end to end on a tiny
embedded cohort (the distilled student beats its untrained state; its control is evaluated beside it)."""

import json

import numpy as np
import pytest
import torch
import yaml

import reactkd.phantom.cohort as phantom
from reactkd.config import ConfigError, to_dict
from reactkd.config.run_dir import prepare_run_dir
from reactkd.config.shipped import resolve_config_path
from reactkd.segment.config import load_seg_config, seg_config_from_mapping, seg_config_identity
from reactkd.segment.data import load_volume
from reactkd.segment.experiment import (
    build_seg_models,
    check_seg_distiller,
    run_seg_distill,
    seg_distiller_kwargs,
    seg_records,
)
from reactkd.segment.inference import load_seg_model
from reactkd.segment.preprocess import SegPreprocess
from reactkd.segment.train import dice_validator

TINY = {
    "name": "seg-tiny", "device": "cpu",
    "data": {"phantom_patients": 6, "spacing_mm": 8.0, "patch_size": 16, "patches_per_case": 12,
             "val_share": 0.2, "test_share": 0.2},
    "teacher": {"family": "segresnet", "kwargs": {"init_filters": 8, "blocks_down": [1, 1, 1], "blocks_up": [1, 1]}},
    "student": {"shrink": 1, "min_channels": 4},
    "stage1": {"epochs": 4, "batch_size": 4, "optimizer": {"lr": 0.01}},
    "stage2": {"epochs": 4, "batch_size": 4, "optimizer": {"lr": 0.01}},
    "distiller": {"name": "seg_reco", "kwargs": {"num_positions": 64, "levels": ["enc4", "dec2", "dec1"]}},
}


def test_shipped_seg_configs_load_and_errors_name_the_key():
    for name in ("seg-demo-cpu", "seg-paper"):
        config = load_seg_config(resolve_config_path(name))
        assert config.distiller["name"] == "seg_reco"
    with pytest.raises(ConfigError, match="unknown config key `data.patchsize`.*Did you mean `data.patch_size`"):
        seg_config_from_mapping({"data": {"patchsize": 32}})
    with pytest.raises(ConfigError, match="`teacher.family` must be one of \\['segresnet', 'swinunetr'\\]"):
        seg_config_from_mapping({"teacher": {"family": "unet"}})
    with pytest.raises(ConfigError, match="`distiller.name` must be one of"):
        seg_config_from_mapping({"distiller": {"name": "reactkd"}})


def _tiny_cohort_size(monkeypatch):
    # The phantom generator's default 96×96×64 grid is more than a 20-second test needs.
    original = phantom.generate_cohort
    monkeypatch.setattr(phantom, "generate_cohort",
                        lambda out, n, seed, size=(48, 48, 32): original(out, n, seed, size))


@pytest.mark.slow
def test_tiny_run_improves_the_student_over_its_untrained_state(tmp_path, monkeypatch):
    _tiny_cohort_size(monkeypatch)
    config = seg_config_from_mapping(TINY)
    run = run_seg_distill(config, tmp_path / "run", log=lambda *_: None)
    assert {"teacher", "student", "student_alone", "evaluation.csv", "evaluation.md", "split.json"} <= {
        p.name for p in run.iterdir()}
    table = json.loads((run / "evaluation.json").read_text())
    assert [r["model"] for r in table] == ["teacher", "student", "student-alone"]  # the control by default
    assert table[1]["params"] < table[0]["params"] / 3 and table[2]["params"] == table[1]["params"]

    split = json.loads((run / "split.json").read_text())
    records = {r.case_id: r for r in seg_records(config, run)}
    pre = SegPreprocess(config.data.spacing_mm, tuple(config.data.hu_window))
    vols = [load_volume(records[c], pre, run / "seg-cache") for c in split["val"] + split["test"]]
    validate = dice_validator(vols, config.data.patch_size, 0.25, "cpu")
    torch.manual_seed(config.seed)
    _, untrained = build_seg_models(config)
    trained, _ = load_seg_model(run, "cpu")
    before, after = validate(untrained)["dice_liver"], validate(trained)["dice_liver"]
    assert np.isfinite(after) and after > before + 0.05, (before, after)  # measured 0.058 → 0.176


def test_a_seg_run_folder_resumes_its_own_config_and_refuses_another(tmp_path):
    config = seg_config_from_mapping(TINY)
    run = tmp_path / "run"
    prepare_run_dir(config, run, identity=seg_config_identity)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved == to_dict(config)
    # Written before a key existed (its default applies) or with a logging switch flipped: the same run.
    del saved["data"]["postprocess"]
    saved["stage1"]["tensorboard"] = not saved["stage1"]["tensorboard"]
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    prepare_run_dir(config, run, identity=seg_config_identity)
    before = (run / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="holds a run of a different config"):
        prepare_run_dir(seg_config_from_mapping({**TINY, "seed": 1}), run, identity=seg_config_identity)
    assert (run / "config.yaml").read_text() == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is not empty and is not a REACTKD run"):
        prepare_run_dir(config, tmp_path / "other", identity=seg_config_identity)


def test_wrong_distiller_kwargs_are_refused_before_the_teacher_trains(tmp_path, monkeypatch):
    config = seg_config_from_mapping(TINY)
    torch.manual_seed(0)
    teacher, student = build_seg_models(config)
    rng = torch.get_rng_state()
    check_seg_distiller(config, teacher, student, steps_per_epoch=3)  # builds and drops the distiller
    assert torch.equal(torch.get_rng_state(), rng) and all(p.requires_grad for p in teacher.parameters())
    assert seg_distiller_kwargs(seg_config_from_mapping({"distiller": {"name": "seg_reco", "kwargs": {
        "warmup_epochs": 2}}}), steps_per_epoch=3)["warmup_steps"] == 6
    _tiny_cohort_size(monkeypatch)
    cases = (({"ca_weigth": 1.0}, "seg_reco.*unexpected keyword argument 'ca_weigth'"),
             ({"levels": ["dec16"]}, "seg_reco.*missing: \\['dec16'\\]"))
    for i, (kwargs, message) in enumerate(cases):
        bad = seg_config_from_mapping({**TINY, "distiller": {"name": "seg_reco", "kwargs": kwargs}})
        with pytest.raises(ConfigError, match=f"`distiller.kwargs` of {message}"):
            run_seg_distill(bad, tmp_path / f"run{i}", log=lambda *_: None)
        assert not (tmp_path / f"run{i}" / "teacher").exists()
