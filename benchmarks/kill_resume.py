#!/usr/bin/env python3
"""Kill-and-resume sweep: SIGKILL a tiny training run at random points and resume it.

A reference run (tiny models, 10 phantom patients, 2 folds, 2 + 2 epochs, augmentation on, one torch
thread) records how often each kill point is reached. Then, for each of ``--points`` random picks
(event, occurrence), a fresh run is started in a child process that SIGKILLs itself at that moment,
and is resumed in a new process until it finishes. Checked for every pick:

- the child really died by SIGKILL at the chosen point;
- no completed epoch was lost: every epoch whose ``last.pt`` had been written before the kill is not
  trained again on resume, and each stage's ``metrics.csv`` holds epochs 1..E exactly once;
- no corrupt file: every ``*.pt`` loads, every ``.csv``/``.json`` parses, no temporary file is left
  under a real name;
- the final teacher and student predictions of every fold are byte-identical to the reference run, and
  so is every epoch's row of every ``metrics.csv`` (training losses, validation metrics; not the seconds).

Kill points (events): ``batch`` (mid-epoch, before a training step), ``save`` (mid-checkpoint-write: half
of the bytes written to the temporary file), ``csv`` (mid-``metrics.csv`` write), ``eval`` (inside
validation or test prediction, after its first batch), ``stage`` (between stages: entering ``fit``).

Usage::

    PYTHONPATH=REACTKD OMP_NUM_THREADS=1 python benchmarks/kill_resume.py --points 10 --seed 0 [--work DIR]

Prints one JSON object (the points and their results). The test suite runs the same harness with one or
two points (``Testing/core/test_kill_resume.py``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENTS = ("batch", "save", "csv", "eval", "stage")


def tiny_config(manifest: Path, epochs1: int = 2, epochs2: int = 2):
    """The tiny end-to-end config of the test suite (Testing/conftest.py ``tiny_experiment``)."""
    from reactkd.config import config_from_mapping

    return config_from_mapping({
        "name": "tiny", "device": "cpu",
        "data": {"manifest": str(manifest), "folds": 2, "preprocess": {"grid_size": 32},
                 "augment": True},
        "teacher": {"feature_size": 12, "fusion_channels": 16, "window_size": 4, "depths": [1, 1, 1, 1]},
        "student": {"init_filters": 8, "pet_channels": 2, "blocks_down": [1, 1, 1, 1]},
        "stage1": {"epochs": epochs1, "batch_size": 4},
        "stage2": {"epochs": epochs2, "batch_size": 4},
    })


# --------------------------------------------------------------------------------------------- child


def _child(run: Path, manifest: Path, kill: str | None, log: Path, epochs1: int, epochs2: int) -> None:
    """Run (or resume) the experiment, counting kill-point events; SIGKILL at ``kill`` = ``EVENT:N``."""
    import torch

    torch.set_num_threads(1)
    import reactkd.train.checkpoint as checkpoint
    import reactkd.evaluate.validation as validation
    import reactkd.experiments.cross_validation as experiment
    import reactkd.train.loop as loop

    target_event, target_n = (kill.split(":")[0], int(kill.split(":")[1])) if kill else (None, -1)
    counts = dict.fromkeys(EVENTS, 0)
    log_f = open(log, "a", buffering=1)

    def note(text: str) -> None:
        log_f.write(text + "\n")
        log_f.flush()
        os.fsync(log_f.fileno())

    def event(name: str) -> bool:
        """Count ``name``; True when this occurrence is the one to die at."""
        counts[name] += 1
        return name == target_event and counts[name] == target_n

    def die(where: str) -> None:
        note(f"killed {where}")
        os.kill(os.getpid(), signal.SIGKILL)

    real_tqdm = loop.tqdm

    class tqdm(real_tqdm):  # the training loop's progress bar: one item per training step
        def __iter__(self):
            for item in super().__iter__():
                if event("batch"):
                    die("batch")
                yield item

    real_save = checkpoint.torch.save

    def save(obj, f, *a, **k):
        if event("save"):
            buf = io.BytesIO()
            real_save(obj, buf, *a, **k)
            with open(f, "wb") as out:  # half of the bytes reach the temporary file, then death
                out.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                out.flush()
                os.fsync(out.fileno())
            die(f"save {Path(f).name}")
        real_save(obj, f, *a, **k)

    real_atomic_path = getattr(loop, "atomic_path", None)  # absent before the loop's writes were atomic


    def atomic_path_for_csv(path):
        cm = real_atomic_path(path)
        if Path(path).suffix == ".csv" and event("csv"):
            tmp = cm.__enter__()
            Path(tmp).write_text("epoch,lr\n1,")  # a torn temporary file
            die(f"csv {Path(path).name}")
        return cm

    def with_first_batch_kill(predict):
        def wrapped(model, loader, *a, **k):
            if event("eval"):
                class OneBatchThenDie:
                    def __iter__(self):
                        for i, b in enumerate(loader):
                            if i == 1:
                                die("eval")
                            yield b
                        die("eval")
                return predict(model, OneBatchThenDie(), *a, **k)
            return predict(model, loader, *a, **k)
        return wrapped

    real_fit = experiment.fit

    def fit(*a, **k):
        if event("stage"):
            die("stage")
        result = real_fit(*a, **k)
        return result

    real_save_last = getattr(loop, "_save_last", None)  # absent before fit() was split (checks on old code)

    def save_last(last, module, opt, loader, skip, epoch, progress):
        real_save_last(last, module, opt, loader, skip, epoch, progress)
        note(f"completed {last.parent.relative_to(run)} {epoch + 1}")

    real_train_epoch = getattr(loop, "_train_epoch", None)

    def train_epoch(trainer, loader, opt, stage, runtime, epoch, desc):
        note(f"training {desc} {epoch + 1}")
        return real_train_epoch(trainer, loader, opt, stage, runtime, epoch, desc)

    loop.tqdm = tqdm
    checkpoint.torch.save = save
    if real_atomic_path is not None:
        loop.atomic_path = atomic_path_for_csv
    validation.predict_loader = with_first_batch_kill(validation.predict_loader)  # the per-epoch evaluation
    experiment.predict_loader = with_first_batch_kill(experiment.predict_loader)
    experiment.fit = fit
    if real_save_last is not None:
        loop._save_last = save_last
        loop._train_epoch = train_epoch
    experiment.run_experiment(tiny_config(manifest, epochs1, epochs2), run, log=lambda *_: None)
    note("counts " + json.dumps(counts))
    note("finished")


# ------------------------------------------------------------------------------------------- checks


def _spawn(run: Path, manifest: Path, kill: str | None, log: Path, epochs: tuple[int, int]) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--child", "--run", str(run), "--manifest", str(manifest), "--log", str(log),
           "--epochs", str(epochs[0]), str(epochs[1])]
    if kill:
        cmd += ["--kill", kill]
    return subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(str(log) + ".err", "a")).returncode


def _log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.is_file() else []


def _corrupt_files(run: Path) -> list[str]:
    """Files under ``run`` that do not read back (checkpoints, tables, JSON), and stray temporaries that
    carry a real name."""
    from reactkd.train.checkpoint import load_checkpoint

    bad = []
    for path in sorted(run.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            if path.suffix == ".pt":
                load_checkpoint(path)
            elif path.suffix == ".csv":
                rows = list(csv.DictReader(open(path, newline="")))
                assert rows, "empty"
            elif path.suffix == ".json":
                json.loads(path.read_text())
        except Exception as err:  # noqa: BLE001 - any failure to read back is the finding
            bad.append(f"{path.relative_to(run)}: {type(err).__name__}: {err}")
    return bad


def _epochs_in(metrics: Path) -> list[int]:
    return [int(r["epoch"]) for r in csv.DictReader(open(metrics, newline=""))] if metrics.is_file() else []


def _predictions(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("fold*/*predictions.csv"))}


def _metrics(run: Path) -> dict[str, list[dict]]:
    """Every stage's per-epoch training losses and validation metrics (wall-clock seconds left out)."""
    return {str(p.relative_to(run)): [{k: v for k, v in r.items() if k != "seconds"}
                                      for r in csv.DictReader(open(p, newline=""))]
            for p in sorted(run.glob("fold*/*/metrics.csv"))}


def _check(run: Path, log: Path, reference: dict, epochs: tuple[int, int]) -> dict:
    lines = _log_lines(log)
    killed = next((ln for ln in lines if ln.startswith("killed")), None)
    first = lines.index(killed) if killed else len(lines)
    completed = {tuple(ln.split()[1:]) for ln in lines[:first] if ln.startswith("completed")}
    retrained = [ln for ln in lines[first:] if ln.startswith("completed")]
    lost = sorted(f"{stage} epoch {e}" for stage, e in completed if f"completed {stage} {e}" in retrained)
    stages = {p.parent: p for p in run.glob("fold*/*/metrics.csv")}
    bad_logs = {str(d.relative_to(run)): _epochs_in(m) for d, m in stages.items()
                if _epochs_in(m) != list(range(1, (epochs[0] if d.name.startswith("teacher") else epochs[1]) + 1))}
    where = next((ln[len("training "):] for ln in reversed(lines[:first]) if ln.startswith("training")), "before training")
    return {"killed_at": killed, "during": where, "epochs_completed_before_kill": len(completed), "completed_epochs_retrained": lost,
            "bad_metrics_csv": bad_logs, "corrupt_files": _corrupt_files(run),
            "predictions_identical": _predictions(run) == reference["predictions"],
            "metrics_identical": _metrics(run) == reference["metrics"], "finished": lines[-1:] == ["finished"]}


def sweep(points: int, seed: int, work: Path, epochs: tuple[int, int] = (2, 2), events: tuple[str, ...] = EVENTS,
          picks: list[str] | None = None) -> dict:
    """The reference run, then ``points`` kill-and-resume trials (or the given ``picks``, ``EVENT:N``);
    returns the JSON-able report."""
    from reactkd.cohort.phantom import generate_cohort

    manifest = generate_cohort(work / "cohort", n_patients=10, seed=3, size=(48, 48, 32))
    t0 = time.perf_counter()
    ref_log = work / "reference.log"
    rc = _spawn(work / "reference", manifest, None, ref_log, epochs)
    if rc != 0:
        raise RuntimeError(f"the reference run failed (exit {rc})")
    reference_s = time.perf_counter() - t0
    counts = json.loads(next(ln for ln in _log_lines(ref_log) if ln.startswith("counts"))[len("counts "):])
    reference = {"predictions": _predictions(work / "reference"), "metrics": _metrics(work / "reference")}
    rng = random.Random(seed)
    picks = list(picks or [])
    for i in range(0 if picks else points):
        name = events[i % len(events)] if points >= len(events) else rng.choice(events)  # every kind at least once
        free = [n for n in range(1, counts[name] + 1) if f"{name}:{n}" not in picks] or [1]
        picks.append(f"{name}:{rng.choice(free)}")  # ten different points
    trials = []
    for i, kill in enumerate(picks):
        run, log = work / f"trial{i}", work / f"trial{i}.log"
        t1 = time.perf_counter()
        rc_kill = _spawn(run, manifest, kill, log, epochs)
        resumes = 0
        while _log_lines(log)[-1:] != ["finished"] and resumes < 5:
            resumes += 1
            rc = _spawn(run, manifest, None, log, epochs)
            if rc not in (0,):
                break
        result = {"point": kill, "kill_exit": rc_kill, "sigkilled": rc_kill == -signal.SIGKILL, "resumes": resumes,
                  **_check(run, log, reference, epochs), "seconds": round(time.perf_counter() - t1, 1)}
        result["ok"] = (result["sigkilled"] and result["finished"] and result["predictions_identical"]
                        and result["metrics_identical"]
                        and not result["corrupt_files"] and not result["completed_epochs_retrained"]
                        and not result["bad_metrics_csv"])
        trials.append(result)
    return {"epochs": list(epochs), "reference_seconds": round(reference_s, 1), "event_counts": counts,
            "trials": trials, "all_ok": all(t["ok"] for t in trials)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--epochs", type=int, nargs=2, default=(2, 2), metavar=("STAGE1", "STAGE2"))
    parser.add_argument("--events", nargs="+", default=list(EVENTS), choices=EVENTS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kill", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.run, args.manifest, args.kill, args.log, *args.epochs)
        return 0
    if args.work is None:
        with tempfile.TemporaryDirectory() as tmp:
            report = sweep(args.points, args.seed, Path(tmp), tuple(args.epochs), tuple(args.events))
    else:
        args.work.mkdir(parents=True, exist_ok=True)
        report = sweep(args.points, args.seed, args.work, tuple(args.epochs), tuple(args.events))
    print(json.dumps(report, indent=1))
    return 0 if report["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
