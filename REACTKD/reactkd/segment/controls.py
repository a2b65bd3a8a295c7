"""Control students of ``reactkd seg-distill``: trained beside the distilled student, so that its held-out
evaluation shows what the teacher added rather than what the student learns by itself.

A control is the distilled student's architecture with its initial weights, trained on the same patches
(stage 2 restarts from the random streams the distilled student started from, saved in
``RUN/student/streams.pt``) with the same stage settings, but another loss. ``stage2.controls`` of the seg
config (:class:`~reactkd.segment.config.SegControl`) lists which to train; :data:`SEG_CONTROLS` says what each
one is:

- ``alone``: the task loss alone (Dice + CE with the config's ``loss`` weights, no teacher term), in
  ``RUN/student_alone/``, row ``student-alone`` of the evaluation. Distilled vs alone is the distillation's
  effect (generalized distillation is judged against the same student trained without the teacher: Lopez-Paz
  et al., ICLR 2016).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch.nn as nn

from reactkd.segment.config import SegControl, SegLossConfig
from reactkd.segment.train import SegSupervised
from reactkd.train.checkpoint import load_checkpoint, save_checkpoint
from reactkd.train.rng import rng_state

__all__ = ["ControlSpec", "SEG_CONTROLS", "STREAMS_FILE", "stage2_streams"]

STREAMS_FILE = "streams.pt"
"""In the distilled student's folder: the random streams its training started from."""

_STREAMS_KIND = "seg_stage2_streams"


@dataclass(frozen=True)
class ControlSpec:
    """What one control is.

    Attributes:
        folder: its stage folder in the run (``best.pt``, ``last.pt``, ``metrics.csv``, ``done.json``).
        row: its ``model`` name in ``evaluation.{csv,json,md}``.
        note: the sentence ``evaluation.md`` gives under the table.
        build: ``(student, loss config) -> training module`` for ``fit`` (``forward(batch)`` →
            ``(logits, {"loss_*": tensor})``).
    """

    folder: str
    row: str
    note: str
    build: Callable[[nn.Module, SegLossConfig], nn.Module]


def _alone(student: nn.Module, loss: SegLossConfig) -> nn.Module:
    return SegSupervised(student, loss.dice_weight, loss.ce_weight, loss.class_weights)


SEG_CONTROLS: dict[SegControl, ControlSpec] = {
    SegControl.ALONE: ControlSpec(
        "student_alone", "student-alone",
        "`student-alone` is the control: the student's architecture, initial weights and training patches with "
        "the task loss alone (Dice + CE, no teacher term), so `student` against `student-alone` is the "
        "distillation's effect.", _alone),
}


def stage2_streams(student_dir: Path, log=print) -> dict:
    """The random streams the distilled student's training starts from: read from ``student_dir/streams.pt``
    when a run saved them, else the current ones, saved there (before the distilled student trains, on a
    fresh run: what it then draws). Reading or saving them draws nothing."""
    path = student_dir / STREAMS_FILE
    if path.is_file():
        state, meta = load_checkpoint(path)
        if meta.get("kind") != _STREAMS_KIND:
            raise ValueError(f"{path} holds a {meta.get('kind')!r} checkpoint, not stage 2's random streams.")
        return state["rng"]
    if (student_dir / "last.pt").is_file() or (student_dir / "done.json").is_file():
        log(f"controls: {path} is missing (a run from before the controls); they draw their own patches")
    state = rng_state()
    save_checkpoint(path, {"rng": state}, {"kind": _STREAMS_KIND})
    return state
