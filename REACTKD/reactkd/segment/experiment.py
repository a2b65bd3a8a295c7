"""``reactkd seg-distill``: stage 1 trains (or loads) the segmentation teacher, stage 2 distils the
compact student with ReCo-KD and trains its controls (the same student without the teacher), then all are
compared on held-out patients.

Run folder::

    RUN/run.json             the run folder's format and kind (reactkd.config.run_dir)
    RUN/config.yaml          resolved config (a re-run with another config is refused; re-running resumes)
    RUN/split.json           case ids of train / val / test (patient-level)
    RUN/cohort/, seg-cache/  the embedded cohort (when no manifest) and preprocessed volumes
    RUN/teacher/, student/   best.pt, last.pt, metrics.csv, done.json (``reactkd segment --model RUN``
                             uses student/best.pt, the distilled student); student/streams.pt: the random
                             streams stage 2 started from
    RUN/student_alone/       the control student of ``stage2.controls: [alone]`` (reactkd.segment.controls)
    RUN/evaluation.{csv,json,md}  teacher, student and the controls: per-class Dice, HD95, parameters,
                             CPU s/volume
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from reactkd.cohort.manifest import read_manifest
from reactkd.config.run_dir import SEGMENTATION, prepare_run_dir
from reactkd.config.schema import ConfigError, to_dict
from reactkd.phantom import cohort as phantom_cohort
from reactkd.segment.config import SegExperimentConfig, seg_config_identity
from reactkd.segment.controls import SEG_CONTROLS, stage2_streams
from reactkd.segment.data import SegPatches, load_volume, patient_split, write_split
from reactkd.segment.distill import build_seg_distiller
from reactkd.segment.inference import seg_metadata
from reactkd.segment.models import SegNet, build_seg_student
from reactkd.segment.preprocess import SegPreprocess
from reactkd.segment.report import evaluate_models, write_table
from reactkd.segment.train import SegSupervised, dice_validator
from reactkd.train.checkpoint import load_checkpoint
from reactkd.train.loop import fit
from reactkd.train.rng import set_rng_state
from reactkd.train.runtime import Runtime, seed_everything

__all__ = ["run_seg_distill", "seg_records", "build_seg_models", "seg_distiller_kwargs",
           "check_seg_distiller"]


def seg_records(config: SegExperimentConfig, run_dir: Path):
    """The manifest's cases (grades optional), or the embedded phantom cohort generated into ``RUN/cohort``."""
    if config.data.manifest:
        return read_manifest(config.data.manifest, require_grade=False)
    return read_manifest(phantom_cohort.generate_cohort(run_dir / "cohort", config.data.phantom_patients,
                                                        config.data.phantom_seed))


def build_seg_models(config: SegExperimentConfig) -> tuple[SegNet, SegNet]:
    teacher = SegNet(config.teacher.family, **config.teacher.kwargs)
    student = build_seg_student(teacher, config.student.shrink, config.student.min_channels, config.student.kwargs)
    return teacher, student


def _load_teacher(teacher: SegNet, path: str, device) -> None:
    state, meta = load_checkpoint(path, map_location=device)
    if meta.get("kind") != "seg_teacher":
        raise ValueError(f"`teacher_checkpoint` {path} holds a {meta.get('kind')!r} checkpoint, not a seg teacher.")
    try:
        teacher.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(f"`teacher_checkpoint` {path} does not match `teacher` in the config: "
                         f"{str(err).splitlines()[0]}") from None


def seg_distiller_kwargs(config: SegExperimentConfig, steps_per_epoch: int) -> dict:
    """The stage-2 distiller's kwargs: the config's Dice + CE weights, then ``distiller.kwargs`` (where
    ``warmup_epochs`` becomes ``warmup_steps``: the YAML speaks in epochs, the distiller counts optimiser steps)."""
    kwargs = {"dice_weight": config.loss.dice_weight, "ce_weight": config.loss.ce_weight,
              "ce_class_weights": config.loss.class_weights, **config.distiller.get("kwargs", {})}
    if "warmup_epochs" in kwargs:
        kwargs["warmup_steps"] = round(float(kwargs.pop("warmup_epochs")) * steps_per_epoch)
    return kwargs


def check_seg_distiller(config: SegExperimentConfig, teacher: SegNet, student: SegNet, steps_per_epoch: int) -> None:
    """Build the stage-2 distiller once and drop it, so that a wrong ``distiller.kwargs`` (an unknown key, a level
    the networks lack, a negative weight) is refused before the teacher trains for hours. The RNG, the
    teacher's trainable flags and both networks' modes are left as they were.

    Raises:
        ConfigError: naming the distiller and what it refused.
    """
    trainable, modes = [p.requires_grad for p in teacher.parameters()], (teacher.training, student.training)
    try:
        with torch.random.fork_rng(devices=[]):
            build_seg_distiller(config.distiller["name"], student, teacher,
                                **seg_distiller_kwargs(config, steps_per_epoch))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"`distiller.kwargs` of {config.distiller['name']}: {err}") from None
    finally:
        for p, flag in zip(teacher.parameters(), trainable):
            p.requires_grad_(flag)
        teacher.train(modes[0])
        student.train(modes[1])


def run_seg_distill(config: SegExperimentConfig, run_dir: str | Path, log=print) -> Path:
    """Train teacher, student and the student's controls, write the evaluation table; returns ``run_dir``.
    Re-running resumes (a finished stage is skipped)."""
    run_dir = Path(run_dir)
    runtime = Runtime.create(config.device, config.precision)
    prepare_run_dir(config, run_dir, identity=seg_config_identity, kind=SEGMENTATION)
    seed_everything(config.seed)
    d = config.data
    pre = SegPreprocess(d.spacing_mm, tuple(d.hu_window))
    train, val, test = patient_split(seg_records(config, run_dir), d.val_share, d.test_share, config.seed)
    write_split({"train": train, "val": val, "test": test}, run_dir / "split.json")
    log(f"seg-distill: {len(train)} training, {len(val)} validation, {len(test)} test case(s)")
    cache = run_dir / "seg-cache"
    train_vols = [load_volume(r, pre, cache) for r in train]
    validate = dice_validator([load_volume(r, pre, cache) for r in val], d.patch_size, d.sw_overlap, runtime.device,
                              d.postprocess)

    def loader(stage):
        patches = SegPatches(train_vols, d.patch_size, d.patches_per_case, d.foreground_share, d.class_sampling)
        return DataLoader(patches, batch_size=stage.batch_size, shuffle=True, num_workers=stage.num_workers,
                          generator=torch.Generator().manual_seed(config.seed),
                          drop_last=len(patches) > stage.batch_size)

    extra = {"config": to_dict(config)}
    teacher, student = build_seg_models(config)
    controls = {c: copy.deepcopy(student) for c in config.stage2.controls}  # the student's initial weights
    check_seg_distiller(config, teacher, student, len(loader(config.stage2)))
    teacher_meta = seg_metadata("seg_teacher", teacher, pre, d.patch_size, d.sw_overlap, extra, d.postprocess)
    if config.teacher_checkpoint:
        _load_teacher(teacher, config.teacher_checkpoint, runtime.device)
        log(f"teacher: loaded {config.teacher_checkpoint}")
    else:
        r1 = fit(SegSupervised(teacher, config.loss.dice_weight, config.loss.ce_weight, config.loss.class_weights),
                 lambda: teacher,
                 loader(config.stage1), config.stage1, runtime, run_dir / "teacher", teacher_meta,
                 desc="seg teacher", validate=validate)
        log(f"teacher: best epoch {r1.best_epoch + 1}, val {config.stage1.select_metric.value} {r1.best_metric:.3f}")
        teacher.load_state_dict(load_checkpoint(r1.best_path, runtime.device)[0]["model"])
    teacher.to(runtime.device).requires_grad_(False).eval()

    stage2_loader = loader(config.stage2)
    distiller = build_seg_distiller(config.distiller["name"], student, teacher,
                                    **seg_distiller_kwargs(config, len(stage2_loader)))
    streams = stage2_streams(run_dir / "student", log) if controls else None
    r2 = fit(distiller, lambda: student, stage2_loader, config.stage2, runtime, run_dir / "student",
             seg_metadata("seg_student", student, pre, d.patch_size, d.sw_overlap, extra, d.postprocess),
             desc="seg student", skip_prefixes=("teacher.",), validate=validate)
    log(f"student: best epoch {r2.best_epoch + 1}, val {config.stage2.select_metric.value} {r2.best_metric:.3f}")
    student.load_state_dict(load_checkpoint(r2.best_path, runtime.device)[0]["model"])
    student_meta = seg_metadata("seg_student", student, pre, d.patch_size, d.sw_overlap, None, d.postprocess)
    models = {"teacher": (teacher.eval(), teacher_meta), "student": (student.eval(), student_meta)}
    for control, net in controls.items():
        spec = SEG_CONTROLS[control]
        set_rng_state(streams)  # the patches (and any other draw) the distilled student started from
        meta = {"control": control.value}
        r = fit(spec.build(net, config.loss), lambda net=net: net, loader(config.stage2), config.stage2, runtime,
                run_dir / spec.folder,
                seg_metadata("seg_student", net, pre, d.patch_size, d.sw_overlap, {**extra, **meta}, d.postprocess),
                desc=f"seg {spec.row}", validate=validate)
        log(f"{spec.row}: best epoch {r.best_epoch + 1}, val {config.stage2.select_metric.value} {r.best_metric:.3f}")
        net.load_state_dict(load_checkpoint(r.best_path, runtime.device)[0]["model"])
        models[spec.row] = (net.eval(), seg_metadata("seg_student", net, pre, d.patch_size, d.sw_overlap, meta,
                                                     d.postprocess))
    if test:
        table = evaluate_models(models, test, runtime.device)
        log(write_table(table, run_dir, [SEG_CONTROLS[c].note for c in controls]))
    return run_dir
