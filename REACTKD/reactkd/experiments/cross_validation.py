"""A whole experiment: for each patient-level fold, stage 1 (teacher, focal loss) then stage 2 (student
under modality dropout with the configured distiller), then predictions on the held-out fold.

Run folder::

    RUN/run.json                    the run folder's format and kind (reactkd.config.run_dir)
    RUN/config.yaml                 resolved config (a re-run with another config is refused)
    RUN/folds.json                  test case ids per fold
    RUN/cohort/, cache/, dose-cache/
    RUN/fold{k}/teacher/            best.pt, last.pt, metrics.csv, done.json
    RUN/fold{k}/teacher{i}/         the distiller's own teachers where `distiller.teachers` lists them
    RUN/fold{k}/student/            same, for the student
    RUN/fold{k}/predictions.csv     student on the test fold (CT + PET as available)
    RUN/fold{k}/teacher_predictions.csv
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from reactkd import GRADES
from reactkd.cohort import patient_folds, read_folds, write_folds
from reactkd.config import ExperimentConfig, dump_config, to_dict
from reactkd.config.schema import Deployment
from reactkd.config.identity import teacher_key
from reactkd.config.run_dir import prepare_run_dir
from reactkd.distill import build_distiller
from reactkd.evaluate.predictions import write_fold_predictions
from reactkd.evaluate.validation import classification_validator
from reactkd.models import Student, Teacher, TeacherSpec, build_student, teacher_spec
from reactkd.preprocess import PreprocessConfig
from reactkd.train.augment import build_augmentation
from reactkd.train.checkpoint import load_checkpoint
from reactkd.train.data import LowDose, inner_split, load_records, make_loader, run_caches
from reactkd.train.loop import fit, selected
from reactkd.train.predict import predict_loader
from reactkd.train.runtime import Runtime, seed_everything
from reactkd.train.supervised import SupervisedModel
from reactkd.utils.atomic import atomic_path

__all__ = ["run_experiment", "build_models", "distiller_teachers", "student_validator"]


def build_models(config: ExperimentConfig) -> tuple[Teacher, Student]:
    """The fold's teacher and the student sharing its CBAM3D."""
    teacher = Teacher(config.teacher)
    return teacher, build_student(teacher, config.student)


def student_validator(config: ExperimentConfig, loader, runtime: Runtime):
    """Stage 2's validator: under the deployment condition (``stage2.deploy: ct`` withholds the PET)."""
    withheld = "pet" if config.stage2.deploy is Deployment.CT else None
    return classification_validator(loader, runtime, withheld)


def _metadata(config: ExperimentConfig, fold: int, kind: str, spec, pcfg: PreprocessConfig) -> dict:
    return {"kind": kind, "fold": fold, "grades": list(GRADES), "class_names": [f"grade {g}" for g in GRADES],
            "model_kwargs": to_dict(spec), "preprocess": pcfg.to_dict(), "config": to_dict(config),
            "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"], "dose_level": config.data.dose_level}}


def distiller_teachers(config: ExperimentConfig) -> list[TeacherSpec] | None:
    """The teachers the distiller learns from when ``distiller.teachers`` lists them (each entry edits
    ``teacher``, e.g. ``{branches: [pet_ct]}``); None: the distiller learns from ``teacher``."""
    edits = config.distiller.teachers
    base = to_dict(config.teacher)
    return [teacher_spec({**base, **e}) for e in edits] if edits else None


def _teacher_dir(config: ExperimentConfig, spec: TeacherSpec, fold_dir: Path, k: int, name: str,
                 store: Path | None) -> Path:
    """Where one fold teacher lives: ``store/<teacher_key>/fold{k}/teacher`` (shared by every run whose
    stage 1 is the same, its config beside it) or ``fold_dir/<name>``."""
    if store is None:
        return fold_dir / name
    own = copy.deepcopy(config)
    own.teacher = spec
    root = Path(store) / teacher_key(own)
    if not (root / "teacher.yaml").is_file():
        with atomic_path(root / "teacher.yaml") as tmp:
            dump_config(own, tmp)
    return root / f"fold{k}" / "teacher"


def run_experiment(config: ExperimentConfig, run_dir: str | Path, log=print, teacher_store: str | Path | None = None) -> Path:
    """Train and predict every fold; returns ``run_dir``. Re-running resumes where it stopped.

    ``teacher_store``: a folder of fold teachers keyed by their stage-1 settings
    (``teacher_store/<teacher_key>/fold{k}/teacher``), trained there when missing and reused when done, so
    that students of one teacher setting (``reactkd compare``/``ablate``) share it; None keeps them in
    ``run_dir``.
    """
    run_dir = Path(run_dir)
    runtime = Runtime.create(config.device, config.precision)
    if runtime.is_main:
        prepare_run_dir(config, run_dir)
    runtime.barrier()
    seed_everything(config.seed)
    records = load_records(config, run_dir)
    pcfg = PreprocessConfig.from_dict(config.data.preprocess)
    cache, dose_dir = run_caches(config, run_dir)
    lowdose = LowDose(dose_dir, config.data.dose_level, config.seed, records)
    folds_path = run_dir / "folds.json"
    if folds_path.is_file():
        folds = read_folds(folds_path)
    else:
        folds = patient_folds(records, config.data.folds, config.seed)
        if runtime.is_main:
            with atomic_path(folds_path) as tmp:
                write_folds(folds, tmp)
    by_id = {r.case_id: r for r in records}
    for k, test_ids in enumerate(folds):
        fold_dir = run_dir / f"fold{k}"
        if (fold_dir / "predictions.csv").is_file():
            log(f"fold {k}: done, skipped")
            continue
        seed_everything(config.seed + k)
        test = [by_id[c] for c in test_ids]
        train, val = inner_split([r for r in records if r.case_id not in set(test_ids)], config.seed + k)

        def loaders(stage):
            # A fresh augmentation stream per stage: a student's training must not depend on whether its
            # teacher was trained in this process or loaded (shared teachers, resumed runs).
            augment = build_augmentation(seed=config.seed + k) if config.data.augment else None
            return (make_loader(train, cache, lowdose, stage.batch_size, runtime, True, augment, stage.num_workers,
                                config.seed + k),
                    make_loader(val, cache, lowdose, stage.batch_size, runtime, False))

        def stage1(spec: TeacherSpec, name: str, model: Teacher | None = None) -> Teacher:
            """Train (or load) one fold teacher; returns it frozen."""
            if model is None:  # a distiller's own teacher: from the fold's RNG state, whatever ran before
                seed_everything(config.seed + k)
                model = Teacher(spec)
            tl, vl = loaders(config.stage1)
            r1 = fit(SupervisedModel(model), lambda: model, tl, config.stage1, runtime,
                     _teacher_dir(config, spec, fold_dir, k, name, teacher_store),
                     _metadata(config, k, "teacher", spec, pcfg), desc=f"fold {k} {name}",
                     validate=classification_validator(vl, runtime))
            log(f"fold {k}: {name} {selected(r1, config.stage1)}")
            model.load_state_dict(load_checkpoint(r1.best_path, runtime.device)[0]["model"])
            return model.requires_grad_(False).eval()

        teacher, student = build_models(config)
        teacher = stage1(config.teacher, "teacher", teacher)
        own = distiller_teachers(config)
        teachers = [teacher if spec == config.teacher else stage1(spec, f"teacher{i + 1}")
                    for i, spec in enumerate(own)] if own else teacher

        seed_everything(config.seed + k)  # stage 2 starts from the same RNG state, trained teacher or loaded
        distiller = build_distiller(config.distiller.name, student, teachers, **config.distiller.kwargs)
        tl, vl = loaders(config.stage2)
        r2 = fit(distiller, lambda s=student: s, tl, config.stage2, runtime, fold_dir / "student",
                 _metadata(config, k, "student", config.student, pcfg),
                 desc=f"fold {k} student", validate=student_validator(config, vl, runtime))
        log(f"fold {k}: student {selected(r2, config.stage2)}")
        student.load_state_dict(load_checkpoint(r2.best_path, runtime.device)[0]["model"])
        if runtime.is_main:
            test_loader = make_loader(test, cache, lowdose, config.stage2.batch_size, runtime, False)
            write_fold_predictions(predict_loader(teacher, test_loader, runtime), k, fold_dir / "teacher_predictions.csv")
            write_fold_predictions(predict_loader(student, test_loader, runtime), k, fold_dir / "predictions.csv")
        runtime.barrier()
        del teacher, teachers, student, distiller
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return run_dir
