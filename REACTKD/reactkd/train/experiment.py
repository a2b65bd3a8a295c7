"""A whole experiment: for each patient-level fold, stage 1 (teacher, focal loss) then stage 2 (student
under modality dropout with the configured distiller), then predictions on the held-out fold.

Run folder::

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

import numpy as np
import torch
import yaml

from reactkd import GRADES
from reactkd.cohort import patient_folds, read_folds, write_folds
from reactkd.config import ConfigError, ExperimentConfig, dump_config, to_dict
from reactkd.config.identity import config_identity, teacher_key
from reactkd.preprocess import PreprocessConfig
from reactkd.train.augment import build_augmentation
from reactkd.train.checkpoint import load_checkpoint
from reactkd.train.data import LowDose, inner_split, load_records, make_loader, run_caches
from reactkd.train.loop import fit
from reactkd.train.predict import predict_loader
from reactkd.train.runtime import Runtime, seed_everything
from reactkd.train.supervised import SupervisedModel

__all__ = ["run_experiment", "prepare_run_dir", "write_fold_predictions", "build_models", "distiller_teachers"]


def prepare_run_dir(config: ExperimentConfig, run_dir: Path) -> None:
    """Create the run folder, or accept it when it holds this same experiment (resume); refuse otherwise."""
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / "config.yaml"
    if saved.is_file():
        if config_identity(yaml.safe_load(saved.read_text())) != config_identity(to_dict(config)):
            raise ConfigError(f"{run_dir} holds a run of a different config; choose another --out "
                              f"(nothing in it was changed).")
        return
    if any(run_dir.iterdir()):
        raise ConfigError(f"{run_dir} is not empty and is not a REACTKD run; choose another --out.")
    dump_config(config, saved)


def _student_kwargs(config: ExperimentConfig) -> dict:
    return {"modality_dropout": config.modality_dropout, **config.student}


def build_models(config: ExperimentConfig):
    from reactkd.models import build_student, build_teacher

    teacher = build_teacher(**config.teacher)
    return teacher, build_student(teacher=teacher, **_student_kwargs(config))


def write_fold_predictions(pred: dict, fold: int, path: Path) -> None:
    from reactkd.evaluate.predictions import PredictionTable, write_predictions

    n = len(pred["case_id"])
    table = PredictionTable.from_logits(pred["case_id"], pred["patient_id"], np.full(n, fold),
                                        pred["label"] + 1, pred["logits"])
    write_predictions(table, path)


def _metadata(config: ExperimentConfig, fold: int, kind: str, model_kwargs: dict, pcfg: PreprocessConfig) -> dict:
    return {"kind": kind, "fold": fold, "grades": list(GRADES), "class_names": [f"grade {g}" for g in GRADES],
            "model_kwargs": model_kwargs, "preprocess": pcfg.to_dict(), "config": to_dict(config),
            "inputs": {"ct": True, "pet_tracers": ["fdg", "acetate"], "dose_level": config.data.dose_level}}


def distiller_teachers(config: ExperimentConfig) -> list[dict] | None:
    """Teacher kwargs of the teachers the distiller learns from when ``distiller.teachers`` lists them (each
    entry edits ``teacher``, e.g. ``{branches: [pet_ct]}``); None: the distiller learns from ``teacher``."""
    edits = config.distiller.get("teachers")
    return [{**config.teacher, **e} for e in edits] if edits else None


def _teacher_dir(config: ExperimentConfig, kwargs: dict, fold_dir: Path, k: int, name: str,
                 store: Path | None) -> Path:
    """Where one fold teacher lives: ``store/<teacher_key>/fold{k}/teacher`` (shared by every run whose
    stage 1 is the same, its config beside it) or ``fold_dir/<name>``."""
    if store is None:
        return fold_dir / name
    own = copy.deepcopy(config)
    own.teacher = kwargs
    root = Path(store) / teacher_key(own)
    if not (root / "teacher.yaml").is_file():
        dump_config(own, root / "teacher.yaml")
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
            write_folds(folds, folds_path)
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

        def stage1(kwargs: dict, name: str, model=None):
            """Train (or load) one fold teacher; returns it frozen."""
            from reactkd.models import build_teacher

            if model is None:  # a distiller's own teacher: from the fold's RNG state, whatever ran before
                seed_everything(config.seed + k)
                model = build_teacher(**kwargs)
            tl, vl = loaders(config.stage1)
            r1 = fit(SupervisedModel(model), lambda: model, tl, vl, config.stage1, runtime,
                     _teacher_dir(config, kwargs, fold_dir, k, name, teacher_store),
                     _metadata(config, k, "teacher", kwargs, pcfg), desc=f"fold {k} {name}")
            log(f"fold {k}: {name} best epoch {r1.best_epoch + 1}, val {config.stage1.select_metric.value} {r1.best_metric:.3f}")
            model.load_state_dict(load_checkpoint(r1.best_path, runtime.device)[0]["model"])
            return model.requires_grad_(False).eval()

        teacher, student = build_models(config)
        teacher = stage1(config.teacher, "teacher", teacher)
        own = distiller_teachers(config)
        teachers = [teacher if kw == config.teacher else stage1(kw, f"teacher{i + 1}")
                    for i, kw in enumerate(own)] if own else teacher

        from reactkd.distill import build_distiller

        seed_everything(config.seed + k)  # stage 2 starts from the same RNG state, trained teacher or loaded

        distiller = build_distiller(config.distiller["name"], student, teachers, **config.distiller.get("kwargs", {}))
        tl, vl = loaders(config.stage2)
        from reactkd.train.inference import standalone_student_kwargs

        student_kwargs = standalone_student_kwargs(_student_kwargs(config), config.teacher, teacher.cbam.channels)
        r2 = fit(distiller, lambda: student, tl, vl, config.stage2, runtime, fold_dir / "student",
                 _metadata(config, k, "student", student_kwargs, pcfg), desc=f"fold {k} student")
        log(f"fold {k}: student best epoch {r2.best_epoch + 1}, val {config.stage2.select_metric.value} {r2.best_metric:.3f}")
        student.load_state_dict(load_checkpoint(r2.best_path, runtime.device)[0]["model"])
        if runtime.is_main:
            test_loader = make_loader(test, cache, lowdose, config.stage2.batch_size, runtime, False)
            write_fold_predictions(predict_loader(teacher, test_loader, runtime), k, fold_dir / "teacher_predictions.csv")
            write_fold_predictions(predict_loader(student, test_loader, runtime), k, fold_dir / "predictions.csv")
        runtime.barrier()
        del teacher, teachers, student, distiller
        torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return run_dir
