"""Kill-and-resume harness: SIGKILL a tiny training run at chosen points and resume it in fresh processes.

A reference run (tiny models, 10 phantom patients, 2 folds, augmentation on, one torch thread) records how
often each kill point is reached. Then, for each pick ``EVENT:N`` (given, or drawn at random), a fresh run
is started in a child process that SIGKILLs itself at the N-th occurrence of the event, and is resumed in
new processes until it finishes. Checked for every pick:

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

Used by ``test_kill_resume.py`` (two picks) and by ``benchmarks/kill_resume.py`` (a random sweep). The
child processes run this file as a script (``--child``).
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
import time
from pathlib import Path

EVENTS = ("batch", "save", "csv", "eval", "stage")


def tiny_config(manifest: Path, epochs1: int = 2, epochs2: int = 2):
    """Tiny networks on a 32³ grid, 2 folds, augmentation on (its random stream must resume too)."""
    from reactkd.config import config_from_mapping

    return config_from_mapping({
        "name": "tiny", "device": "cpu",
        "data": {"manifest": str(manifest), "folds": 2, "preprocess": {"grid_size": 32}, "augment": True},
        "teacher": {"feature_size": 12, "fusion_channels": 16, "window_size": 4, "depths": [1, 1, 1, 1]},
        "student": {"init_filters": 8, "pet_channels": 2, "blocks_down": [1, 1, 1, 1]},
        "stage1": {"epochs": epochs1, "batch_size": 4},
        "stage2": {"epochs": epochs2, "batch_size": 4},
    })


# --------------------------------------------------------------------------------------------- child


def _replace_everywhere(original, replacement) -> None:
    """Point every ``reactkd`` module attribute bound to ``original`` (``from x import f``) at ``replacement``."""
    for module in [m for name, m in sys.modules.items() if name.startswith("reactkd") and m is not None]:
        for attr, value in list(vars(module).items()):
            if value is original:
                setattr(module, attr, replacement)


class _Events:
    """Counts kill-point events and SIGKILLs this process at ``EVENT:N``; notes progress in a log file."""

    def __init__(self, kill: str | None, log: Path):
        self.target, self.n = (kill.split(":")[0], int(kill.split(":")[1])) if kill else (None, -1)
        self.counts = dict.fromkeys(EVENTS, 0)
        self.log = open(log, "a", buffering=1)

    def note(self, text: str) -> None:
        self.log.write(text + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())

    def hit(self, name: str) -> bool:
        """Count ``name``; True when this occurrence is the one to die at."""
        self.counts[name] += 1
        return name == self.target and self.counts[name] == self.n

    def die(self, where: str) -> None:
        self.note(f"killed {where}")
        os.kill(os.getpid(), signal.SIGKILL)


def _child(run: Path, manifest: Path, kill: str | None, log: Path, epochs1: int, epochs2: int) -> None:
    """Run (or resume) the experiment, counting kill-point events; SIGKILL at ``kill`` = ``EVENT:N``."""
    import torch

    torch.set_num_threads(1)
    from reactkd.experiments.cross_validation import run_experiment
    from reactkd.train import loop
    from reactkd.train.predict import predict_loader

    events = _Events(kill, log)
    _kill_in_writes(events, torch, loop)
    _kill_in_steps(events, loop, predict_loader)
    _note_epochs(events, loop, run)
    run_experiment(tiny_config(manifest, epochs1, epochs2), run, log=lambda *_: None)
    events.note("counts " + json.dumps(events.counts))
    events.note("finished")


def _kill_in_writes(events: _Events, torch, loop) -> None:
    """Kill points ``save`` (half a checkpoint written) and ``csv`` (a torn ``metrics.csv`` temporary)."""
    real_save = torch.save

    def save(obj, f, *a, **k):
        if events.hit("save"):
            buf = io.BytesIO()
            real_save(obj, buf, *a, **k)
            with open(f, "wb") as out:  # half of the bytes reach the temporary file, then death
                out.write(buf.getvalue()[: len(buf.getvalue()) // 2])
                out.flush()
                os.fsync(out.fileno())
            events.die(f"save {Path(f).name}")
        real_save(obj, f, *a, **k)

    real_atomic_path = loop.atomic_path

    def atomic_path_for_csv(path):
        cm = real_atomic_path(path)
        if Path(path).suffix == ".csv" and events.hit("csv"):
            Path(cm.__enter__()).write_text("epoch,lr\n1,")  # a torn temporary file
            events.die(f"csv {Path(path).name}")
        return cm

    torch.save = save
    loop.atomic_path = atomic_path_for_csv


def _kill_in_steps(events: _Events, loop, predict_loader) -> None:
    """Kill points ``batch`` (before a training step), ``eval`` (inside prediction) and ``stage`` (entering fit)."""

    class Progress(loop.tqdm):  # the training loop's progress bar: one item per training step
        def __iter__(self):
            for item in super().__iter__():
                if events.hit("batch"):
                    events.die("batch")
                yield item

    def predict_then_die(model, loader, *a, **k):
        if events.hit("eval"):
            class OneBatchThenDie:
                def __iter__(self):
                    for i, b in enumerate(loader):
                        if i == 1:
                            events.die("eval")
                        yield b
                    events.die("eval")
            return predict_loader(model, OneBatchThenDie(), *a, **k)
        return predict_loader(model, loader, *a, **k)

    real_fit = loop.fit

    def fit(*a, **k):
        if events.hit("stage"):
            events.die("stage")
        return real_fit(*a, **k)

    loop.tqdm = Progress
    _replace_everywhere(predict_loader, predict_then_die)  # per-epoch validation and the test folds
    _replace_everywhere(real_fit, fit)


def _note_epochs(events: _Events, loop, run: Path) -> None:
    """Log each epoch's start (``training``) and each saved ``last.pt`` (``completed``)."""
    real_save_last, real_train_epoch = loop._save_last, loop._train_epoch

    def save_last(last, module, opt, loader, skip, epoch, progress):
        real_save_last(last, module, opt, loader, skip, epoch, progress)
        events.note(f"completed {last.parent.relative_to(run)} {epoch + 1}")

    def train_epoch(trainer, loader, opt, stage, runtime, epoch, desc):
        events.note(f"training {desc} {epoch + 1}")
        return real_train_epoch(trainer, loader, opt, stage, runtime, epoch, desc)

    loop._save_last, loop._train_epoch = save_last, train_epoch


# ------------------------------------------------------------------------------------------- checks


def _spawn(run: Path, manifest: Path, kill: str | None, log: Path, epochs: tuple[int, int]) -> int:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--child", "--run", str(run), "--manifest", str(manifest), "--log", str(log),
           "--epochs", str(epochs[0]), str(epochs[1])]
    if kill:
        cmd += ["--kill", kill]
    with open(str(log) + ".err", "a") as err:
        return subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err).returncode


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
                with open(path, newline="") as fh:
                    assert list(csv.DictReader(fh)), "empty"
            elif path.suffix == ".json":
                json.loads(path.read_text())
        except Exception as err:  # noqa: BLE001 - any failure to read back is the finding
            bad.append(f"{path.relative_to(run)}: {type(err).__name__}: {err}")
    return bad


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _epochs_in(metrics: Path) -> list[int]:
    return [int(r["epoch"]) for r in _rows(metrics)] if metrics.is_file() else []


def _predictions(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.glob("fold*/*predictions.csv"))}


def _metrics(run: Path) -> dict[str, list[dict]]:
    """Every stage's per-epoch training losses and validation metrics (wall-clock seconds left out)."""
    return {str(p.relative_to(run)): [{k: v for k, v in r.items() if k != "seconds"} for r in _rows(p)]
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
    where = next((ln[len("training "):] for ln in reversed(lines[:first]) if ln.startswith("training")),
                 "before training")
    return {"killed_at": killed, "during": where, "epochs_completed_before_kill": len(completed),
            "completed_epochs_retrained": lost, "bad_metrics_csv": bad_logs, "corrupt_files": _corrupt_files(run),
            "predictions_identical": _predictions(run) == reference["predictions"],
            "metrics_identical": _metrics(run) == reference["metrics"], "finished": lines[-1:] == ["finished"]}


def _draw_picks(points: int, seed: int, events: tuple[str, ...], counts: dict) -> list[str]:
    """``points`` different ``EVENT:N`` picks; with ``points`` >= the number of events, every kind at least once."""
    rng, picks = random.Random(seed), []
    for i in range(points):
        name = events[i % len(events)] if points >= len(events) else rng.choice(events)
        free = [n for n in range(1, counts[name] + 1) if f"{name}:{n}" not in picks] or [1]
        picks.append(f"{name}:{rng.choice(free)}")
    return picks


def sweep(points: int, seed: int, work: Path, epochs: tuple[int, int] = (2, 2), events: tuple[str, ...] = EVENTS,
          picks: list[str] | None = None) -> dict:
    """The reference run, then ``points`` kill-and-resume trials (or the given ``picks``, ``EVENT:N``);
    returns the JSON-able report."""
    from reactkd.phantom.cohort import generate_cohort

    manifest = generate_cohort(work / "cohort", n_patients=10, seed=3, size=(48, 48, 32))
    t0 = time.perf_counter()
    ref_log = work / "reference.log"
    rc = _spawn(work / "reference", manifest, None, ref_log, epochs)
    if rc != 0:
        raise RuntimeError(f"the reference run failed (exit {rc}): {Path(str(ref_log) + '.err').read_text()[-2000:]}")
    reference_s = time.perf_counter() - t0
    counts = json.loads(next(ln for ln in _log_lines(ref_log) if ln.startswith("counts"))[len("counts "):])
    reference = {"predictions": _predictions(work / "reference"), "metrics": _metrics(work / "reference")}
    picks = list(picks) if picks else _draw_picks(points, seed, events, counts)
    trials = []
    for i, kill in enumerate(picks):
        run, log = work / f"trial{i}", work / f"trial{i}.log"
        t1 = time.perf_counter()
        rc_kill = _spawn(run, manifest, kill, log, epochs)
        resumes = 0
        while _log_lines(log)[-1:] != ["finished"] and resumes < 5:
            resumes += 1
            if _spawn(run, manifest, None, log, epochs) != 0:
                break
        result = {"point": kill, "kill_exit": rc_kill, "sigkilled": rc_kill == -signal.SIGKILL, "resumes": resumes,
                  **_check(run, log, reference, epochs), "seconds": round(time.perf_counter() - t1, 1)}
        result["ok"] = (result["sigkilled"] and result["finished"] and result["predictions_identical"]
                        and result["metrics_identical"] and not result["corrupt_files"]
                        and not result["completed_epochs_retrained"] and not result["bad_metrics_csv"])
        trials.append(result)
    return {"epochs": list(epochs), "reference_seconds": round(reference_s, 1), "event_counts": counts,
            "trials": trials, "all_ok": all(t["ok"] for t in trials)}


def _child_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one child run of the kill-and-resume harness")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--epochs", type=int, nargs=2, required=True)
    parser.add_argument("--kill")
    args = parser.parse_args(argv)
    _child(args.run, args.manifest, args.kill, args.log, *args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
