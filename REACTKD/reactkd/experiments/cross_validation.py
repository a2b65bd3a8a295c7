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
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from reactkd import GRADES
from reactkd.cohort import CaseRecord, PreprocessCache, patient_folds, read_folds, write_folds
from reactkd.config import ExperimentConfig, StageConfig, dump_config, to_dict
from reactkd.config.identity import teacher_key
from reactkd.config.run_dir import prepare_run_dir
from reactkd.config.schema import Deployment
from reactkd.distill import build_distiller
from reactkd.evaluate.predictions import write_fold_predictions
from reactkd.models import Student, Teacher, TeacherBranch, TeacherSpec, build_student, teacher_spec
from reactkd.preprocess import PreprocessConfig
from reactkd.train.augment import build_augmentation
from reactkd.train.checkpoint import load_checkpoint
from reactkd.train.data import LowDose, inner_split, load_records, make_loader, run_caches
from reactkd.train.dose_consistency import with_unlabelled
from reactkd.train.loop import fit, selected
from reactkd.train.predict import predict_loader
from reactkd.train.runtime import Runtime, seed_everything
from reactkd.train.supervised import SupervisedModel
from reactkd.train.unlabelled import UnlabelledCases, read_unlabelled
from reactkd.train.validation import classification_validator
from reactkd.utils.atomic import atomic_path

__all__ = ["run_experiment", "prepare_run", "run_fold", "RunData", "Fold", "FoldContext", "build_models",
           "distiller_teachers", "student_validator"]


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


@dataclass
class RunData:
    """What every fold of a run reads: the cases, the preprocessing and low-dose caches, the test folds, and
    the unlabelled CT of stage 1 (None without ``data.unlabelled_manifest``)."""

    records: list[CaseRecord]
    preprocess: PreprocessConfig
    cache: PreprocessCache
    lowdose: LowDose
    folds: list[list[str]]
    unlabelled: UnlabelledCases | None = None


@dataclass
class Fold:
    """Fold ``k``: its training, validation and held-out test cases and its folder (``RUN/fold{k}``)."""

    k: int
    train: list[CaseRecord]
    val: list[CaseRecord]
    test: list[CaseRecord]
    folder: Path


@dataclass
class FoldContext:
    """Everything a fold's steps share: the config, the run's data, this process's runtime, the log and
    the shared teacher store (None: teachers live in the run folder)."""

    config: ExperimentConfig
    data: RunData
    runtime: Runtime
    log: Callable[[str], None]
    teacher_store: Path | None


def run_experiment(config: ExperimentConfig, run_dir: str | Path, log=print,
                   teacher_store: str | Path | None = None) -> Path:
    """Train and predict every fold; returns ``run_dir``. Re-running resumes where it stopped.

    ``teacher_store``: a folder of fold teachers keyed by their stage-1 settings
    (``teacher_store/<teacher_key>/fold{k}/teacher``), trained there when missing and reused when done, so
    that students of one teacher setting (``reactkd compare``/``ablate``) share it; None keeps them in
    ``run_dir``.
    """
    run_dir = Path(run_dir)
    runtime = Runtime.create(config.device, config.precision)
    data = prepare_run(config, run_dir, runtime)
    context = FoldContext(config, data, runtime, log, Path(teacher_store) if teacher_store is not None else None)
    for k in range(len(data.folds)):
        if (run_dir / f"fold{k}" / "predictions.csv").is_file():
            log(f"fold {k}: done, skipped")
            continue
        run_fold(context, k, run_dir / f"fold{k}")
    return run_dir


def prepare_run(config: ExperimentConfig, run_dir: Path, runtime: Runtime) -> RunData:
    """Create or resume the run folder and read its data: cases, caches and the patient-level folds
    (``folds.json``, written once)."""
    if runtime.is_main:
        prepare_run_dir(config, run_dir)
    runtime.barrier()
    seed_everything(config.seed)
    records = load_records(config, run_dir)
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
    return RunData(records, PreprocessConfig.from_dict(config.data.preprocess), cache, lowdose, folds,
                   read_unlabelled(config, run_dir, records))


def fold_split(context: FoldContext, k: int, fold_dir: Path) -> Fold:
    """Fold ``k``'s held-out cases and the inner train/validation split of the rest (by patient)."""
    by_id = {r.case_id: r for r in context.data.records}
    test_ids = set(context.data.folds[k])
    train, val = inner_split([r for r in context.data.records if r.case_id not in test_ids], context.config.seed + k)
    return Fold(k, train, val, [by_id[c] for c in context.data.folds[k]], fold_dir)


def run_fold(context: FoldContext, k: int, fold_dir: Path) -> None:
    """Stage 1 (the fold teacher, and the distiller's own teachers), stage 2 (the student), then both
    predict the held-out fold. Every stage starts from the fold's RNG state, trained or loaded."""
    config = context.config
    seed_everything(config.seed + k)
    fold = fold_split(context, k, fold_dir)
    teacher, student = build_models(config)
    teacher = train_teacher(context, fold, config.teacher, "teacher", teacher)
    teachers = distillation_teachers(context, fold, teacher)
    seed_everything(config.seed + k)  # stage 2 starts from the same RNG state, trained teacher or loaded
    train_student(context, fold, student, teachers)
    if context.runtime.is_main:
        write_test_predictions(context, fold, teacher, student)
    context.runtime.barrier()
    del teacher, teachers, student
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def stage_loaders(context: FoldContext, fold: Fold, stage: StageConfig) -> tuple[DataLoader, DataLoader]:
    """The stage's training loader (shuffled, augmented) and validation loader.

    A fresh augmentation stream per stage: a student's training must not depend on whether its teacher
    was trained in this process or loaded (shared teachers, resumed runs)."""
    config, data, seed = context.config, context.data, context.config.seed + fold.k
    augment = build_augmentation(seed=seed) if config.data.augment else None
    train = make_loader(fold.train, data.cache, data.lowdose, stage.batch_size, context.runtime, train=True,
                        transform=augment, num_workers=stage.num_workers, seed=seed)
    val = make_loader(fold.val, data.cache, data.lowdose, stage.batch_size, context.runtime, train=False)
    return train, val


def train_teacher(context: FoldContext, fold: Fold, spec: TeacherSpec, name: str,
                  model: Teacher | None = None) -> Teacher:
    """Train (or load) one fold teacher; returns it frozen. Without ``model`` (a distiller's own teacher) it
    is built from the fold's RNG state, whatever ran before. With the run's unlabelled CT, a teacher with the
    dose-aware branch also learns from it (:mod:`reactkd.train.dose_consistency`)."""
    config, runtime = context.config, context.runtime
    if model is None:
        seed_everything(config.seed + fold.k)
        model = Teacher(spec)
    train, val = stage_loaders(context, fold, config.stage1)
    module = SupervisedModel(model)
    if context.data.unlabelled is not None and TeacherBranch.DOSE in spec.branches:  # unlabelled CT: dose branch
        module, train = with_unlabelled(module, train, context.data.unlabelled, config.stage1,
                                        config.distiller.kwargs, runtime, config.seed + fold.k,
                                        augment=config.data.augment)
    result = fit(module, partial(_same, model), train, config.stage1, runtime,
                 _teacher_dir(config, spec, fold.folder, fold.k, name, context.teacher_store),
                 _metadata(config, fold.k, "teacher", spec, context.data.preprocess), desc=f"fold {fold.k} {name}",
                 validate=classification_validator(val, runtime))
    context.log(f"fold {fold.k}: {name} {selected(result, config.stage1)}")
    model.load_state_dict(load_checkpoint(result.best_path, runtime.device)[0]["model"])
    return model.requires_grad_(False).eval()


def distillation_teachers(context: FoldContext, fold: Fold, teacher: Teacher) -> Teacher | list[Teacher]:
    """The fold teacher, or the distiller's own teachers where ``distiller.teachers`` lists them (the fold
    teacher standing in for an entry equal to ``teacher``)."""
    own = distiller_teachers(context.config)
    if not own:
        return teacher
    return [teacher if spec == context.config.teacher else train_teacher(context, fold, spec, f"teacher{i + 1}")
            for i, spec in enumerate(own)]


def train_student(context: FoldContext, fold: Fold, student: Student, teachers: Teacher | list[Teacher]) -> Student:
    """Stage 2: distil ``student`` from ``teachers``; loads the kept epoch's weights into it."""
    config, runtime = context.config, context.runtime
    distiller = build_distiller(config.distiller.name, student, teachers, **config.distiller.kwargs)
    train, val = stage_loaders(context, fold, config.stage2)
    result = fit(distiller, partial(_same, student), train, config.stage2, runtime, fold.folder / "student",
                 _metadata(config, fold.k, "student", config.student, context.data.preprocess),
                 desc=f"fold {fold.k} student", validate=student_validator(config, val, runtime))
    context.log(f"fold {fold.k}: student {selected(result, config.stage2)}")
    student.load_state_dict(load_checkpoint(result.best_path, runtime.device)[0]["model"])
    return student


def write_test_predictions(context: FoldContext, fold: Fold, teacher: Teacher, student: Student) -> None:
    """``teacher_predictions.csv`` and ``predictions.csv`` (written last: the marker of a finished fold)."""
    data, runtime = context.data, context.runtime
    test = make_loader(fold.test, data.cache, data.lowdose, context.config.stage2.batch_size, runtime, train=False)
    write_fold_predictions(predict_loader(teacher, test, runtime), fold.k, fold.folder / "teacher_predictions.csv")
    write_fold_predictions(predict_loader(student, test, runtime), fold.k, fold.folder / "predictions.csv")


def _same(network: nn.Module) -> nn.Module:
    """The network whose weights a stage saves (``fit``'s ``export``)."""
    return network
