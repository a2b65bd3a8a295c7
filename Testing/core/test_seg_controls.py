"""seg-distill's control students (``stage2.controls``): the student alone is trained beside the distilled
student from its initial weights and patches with Dice + CE only, evaluated in a third row, resumed like the
other stages, and skipped with ``controls: []``; the deployed model stays the distilled student."""

import csv
import io
import json
import shutil

import pytest
import torch
from test_seg_pinned import TINY_RUN

import reactkd.phantom.cohort as phantom
import reactkd.segment.experiment as experiment
from reactkd.config import ConfigError
from reactkd.config.shipped import resolve_config_path
from reactkd.segment.config import SegControl, load_seg_config, seg_config_from_mapping
from reactkd.segment.controls import SEG_CONTROLS, STREAMS_FILE
from reactkd.segment.inference import load_seg_model
from reactkd.train.checkpoint import load_checkpoint

# Seconds on one thread: the pinned tiny run (4 phantom patients at 12 mm, two epochs per stage) with the
# default controls.
TINY = {**TINY_RUN, "name": "seg-controls", "seed": 1,
        "stage2": {k: v for k, v in TINY_RUN["stage2"].items() if k != "controls"}}
TEACHER_TERMS = {"train_loss_kd", "train_loss_sard", "train_loss_ca"}


@pytest.fixture
def small_phantom(monkeypatch):
    original = phantom.generate_cohort
    monkeypatch.setattr(phantom, "generate_cohort",
                        lambda out, n, seed, size=(48, 48, 32): original(out, n, seed, size))


def _with(stage2: dict | None = None, distiller_kwargs: dict | None = None) -> dict:
    kwargs = {**TINY["distiller"]["kwargs"], **(distiller_kwargs or {})}
    return {**TINY, "stage2": {**TINY["stage2"], **(stage2 or {})},
            "distiller": {"name": "seg_reco", "kwargs": kwargs}}


def _metrics(source) -> list[dict]:
    """``metrics.csv`` (a path or its bytes) without the wall time."""
    text = source.decode() if isinstance(source, bytes) else source.read_text()
    return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(io.StringIO(text))]


def _counting_fit(monkeypatch) -> list[tuple[str, int]]:
    """Record (stage folder, epochs it trained) of every ``fit`` the experiment calls."""
    calls, original = [], experiment.fit

    def fit(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((args[5].name, result.epochs_run))
        return result

    monkeypatch.setattr(experiment, "fit", fit)
    return calls


def test_controls_are_a_typed_list_defaulting_to_the_student_alone():
    assert seg_config_from_mapping({}).stage2.controls == [SegControl.ALONE]
    assert seg_config_from_mapping({}, ["stage2.controls=[]"]).stage2.controls == []
    for name in ("seg-demo-cpu", "seg-paper"):
        assert load_seg_config(resolve_config_path(name)).stage2.controls == [SegControl.ALONE]
    with pytest.raises(ConfigError, match=r"`stage2.controls\[0\]` must be one of \['alone'\], got 'teacherless'"):
        seg_config_from_mapping({"stage2": {"controls": ["teacherless"]}})
    with pytest.raises(ConfigError, match="`stage2.controls` must be a list without repeats"):
        seg_config_from_mapping({"stage2": {"controls": ["alone", "alone"]}})
    with pytest.raises(ConfigError, match="unknown config key `stage1.controls`"):
        seg_config_from_mapping({"stage1": {"controls": []}})
    assert set(SEG_CONTROLS) == set(SegControl)


@pytest.mark.slow
def test_the_run_trains_the_student_alone_evaluates_it_and_resumes_without_retraining(tmp_path, small_phantom,
                                                                                        monkeypatch):
    calls = _counting_fit(monkeypatch)
    config = seg_config_from_mapping(TINY)
    run = experiment.run_seg_distill(config, tmp_path / "run", log=lambda *_: None)
    assert calls == [("teacher", 2), ("student", 2), ("student_alone", 2)]
    table = json.loads((run / "evaluation.json").read_text())
    assert [r["model"] for r in table] == ["teacher", "student", "student-alone"]
    assert table[2]["params"] == table[1]["params"] and table[2]["cases"] == table[1]["cases"]
    with open(run / "evaluation.csv", newline="") as f:
        assert [r["model"] for r in csv.DictReader(f)] == ["teacher", "student", "student-alone"]
    md = (run / "evaluation.md").read_text()
    assert "| student-alone |" in md and SEG_CONTROLS[SegControl.ALONE].note in md
    # Task loss only: Dice + CE, none of the distilled student's teacher terms.
    alone, distilled = _metrics(run / "student_alone" / "metrics.csv"), _metrics(run / "student" / "metrics.csv")
    assert len(alone) == 2 and {"train_loss_dice", "train_loss_ce"} <= set(alone[0])
    assert not TEACHER_TERMS & set(alone[0]) and TEACHER_TERMS <= set(distilled[0])
    state, meta = load_checkpoint(run / "student_alone" / "best.pt")
    assert meta["kind"] == "seg_student" and meta["control"] == "alone"
    # `reactkd segment --model RUN` deploys the distilled student, not the control.
    deployed, _ = load_seg_model(run, "cpu")
    distilled_state = load_checkpoint(run / "student" / "best.pt")[0]["model"]
    assert all(torch.equal(v, distilled_state[k]) for k, v in deployed.state_dict().items())
    assert any(not torch.equal(v, distilled_state[k]) for k, v in state["model"].items())

    before = {p: (run / p).read_bytes() for p in ("student_alone/best.pt", "student_alone/metrics.csv")}
    calls.clear()
    experiment.run_seg_distill(config, run, log=lambda *_: None)
    assert calls == [("teacher", 0), ("student", 0), ("student_alone", 0)]
    assert all((run / p).read_bytes() == b for p, b in before.items())
    assert [r["model"] for r in json.loads((run / "evaluation.json").read_text())] == [r["model"] for r in table]

    # Teacher and student finished, the control lost: it retrains from the saved streams, as it first did.
    shutil.rmtree(run / "student_alone")
    calls.clear()
    experiment.run_seg_distill(config, run, log=lambda *_: None)
    assert calls == [("teacher", 0), ("student", 0), ("student_alone", 2)]
    again = load_checkpoint(run / "student_alone" / "best.pt")[0]["model"]
    assert all(torch.equal(v, state["model"][k]) for k, v in again.items())
    assert _metrics(run / "student_alone" / "metrics.csv") == _metrics(before["student_alone/metrics.csv"])


@pytest.mark.slow
def test_with_every_teacher_term_off_the_control_is_the_distilled_student(tmp_path, small_phantom):
    # Same initial weights, same patches in the same order, same loss: the same weights, epoch by epoch.
    config = seg_config_from_mapping(_with(distiller_kwargs={"sard_weight": 0.0, "ca_weight": 0.0, "kd_weight": 0.0}))
    run = experiment.run_seg_distill(config, tmp_path / "run", log=lambda *_: None)
    alone, distilled = _metrics(run / "student_alone" / "metrics.csv"), _metrics(run / "student" / "metrics.csv")
    assert alone == distilled
    a, s = (load_checkpoint(run / stage / "best.pt")[0]["model"] for stage in ("student_alone", "student"))
    assert a.keys() == s.keys() and all(torch.equal(a[k], s[k]) for k in a)
    assert (run / "student" / STREAMS_FILE).is_file()


@pytest.mark.slow
def test_an_empty_controls_list_trains_no_control(tmp_path, small_phantom, monkeypatch):
    calls = _counting_fit(monkeypatch)
    run = experiment.run_seg_distill(seg_config_from_mapping(_with({"controls": []})), tmp_path / "run",
                                     log=lambda *_: None)
    assert [c[0] for c in calls] == ["teacher", "student"]
    assert not (run / "student_alone").exists() and not (run / "student" / STREAMS_FILE).exists()
    assert [r["model"] for r in json.loads((run / "evaluation.json").read_text())] == ["teacher", "student"]
    assert "student-alone" not in (run / "evaluation.md").read_text()
