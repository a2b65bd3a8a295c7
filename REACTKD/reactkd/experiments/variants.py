"""The rows of Tables I and II as edits of one base experiment config.

Table I (comparison) keeps the base teachers and swaps the distiller; Table II (ablation) switches the
dose-aware teacher branch, Region Graph Distillation and CBAM3D on and off (2³ = 8 rows). Each row is a
:class:`Variant`: a name for the table and a function from the base config to the row's config.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from reactkd.config import ExperimentConfig
from reactkd.distill.spec import DistillerSpec, accepted_kwargs
from reactkd.models.inputs import TeacherBranch

__all__ = ["Variant", "COMPARE_METHODS", "MULTI_TEACHER", "modality_teachers", "ABLATION_ROWS", "compare_variants",
           "ablation_variants", "RGD_WEIGHTS"]

RGD_WEIGHTS = ("node_weight", "edge_weight", "gw_weight")
"""The Region Graph Distillation terms of the ``reactkd`` distiller (zeroed in the "w/o RGD" rows)."""

COMPARE_METHODS: dict[str, str] = {
    "REACT-KD": "reactkd",
    "KD": "kd",
    "AT": "at",
    "CIRKD": "cirkd",
    "MSKD": "mskd",
    "MTCM-KD": "mtcmkd",
    "AWMTKD": "awmtkd",
    "MS-SARD (ReCo-KD)": "ms_sard",
    "MS-CA (ReCo-KD)": "ms_ca",
    "Student alone (no teacher)": "none",
}
"""Table I rows: display name → registered distiller key (REACT-KD first, then the paper's baselines,
ReCo-KD's two terms and the student trained on the labels alone, the row every gain is measured from)."""

MULTI_TEACHER = ("mtcmkd", "awmtkd")
"""Methods that learn from several modality-specific teachers (their published set-up), not the fused one."""


def modality_teachers(config: ExperimentConfig) -> list[dict]:
    """One single-branch teacher per branch of the base teacher (PET/CT, dose-degraded CT): the teachers a
    multi-teacher method distils from. Each is trained at stage 1 like the fused teacher, and shared."""
    return [{"branches": [b.value]} for b in config.teacher.branches]


ABLATION_ROWS: list[tuple[bool, bool, bool]] = [
    (dose, rgd, cbam) for dose in (True, False) for rgd in (True, False) for cbam in (True, False)
]
"""Table II rows as ``(dose teacher, RGD, CBAM3D)``, the full model first."""


@dataclass(frozen=True)
class Variant:
    """One table row: ``name`` (a folder-safe ``slug`` is derived) and the base-config edit."""

    name: str
    edit: Callable[[ExperimentConfig], ExperimentConfig]

    @property
    def slug(self) -> str:
        keep = "".join(c.lower() if c.isalnum() else "-" for c in self.name)
        return "-".join(p for p in keep.split("-") if p)

    def apply(self, base: ExperimentConfig) -> ExperimentConfig:
        return self.edit(copy.deepcopy(base))


def _distiller_kwargs(base: ExperimentConfig, key: str) -> dict:
    """The base distiller's kwargs that ``key`` accepts too (temperature, KD weight, levels …), RGD weights
    apart: they are REACT-KD's own."""
    kwargs = dict(base.distiller.kwargs)
    if key == base.distiller.name:
        return kwargs
    accepted = accepted_kwargs(key)
    return {k: v for k, v in kwargs.items() if k in accepted and k not in RGD_WEIGHTS}


def compare_variants(base: ExperimentConfig, methods: Sequence[str] | None = None) -> list[Variant]:
    """Table I: one variant per method (display names or registry keys; default all of :data:`COMPARE_METHODS`).

    Raises:
        ValueError: for an unknown method (the message lists the known ones).
    """
    by_key = {v: k for k, v in COMPARE_METHODS.items()}
    chosen = []
    for m in methods or list(COMPARE_METHODS):
        if m in COMPARE_METHODS:
            chosen.append((m, COMPARE_METHODS[m]))
        elif m in by_key:
            chosen.append((by_key[m], m))
        else:
            raise ValueError(f"unknown method {m!r}; choose from {list(COMPARE_METHODS.values())}.")

    def edit_for(key: str):
        def edit(c: ExperimentConfig) -> ExperimentConfig:
            c.distiller = DistillerSpec(key, _distiller_kwargs(base, key),
                                        modality_teachers(c) if key in MULTI_TEACHER else None)
            return c
        return edit

    return [Variant(name, edit_for(key)) for name, key in chosen]


def ablation_name(dose: bool, rgd: bool, cbam: bool) -> str:
    if dose and rgd and cbam:
        return "REACT-KD (full)"
    off = [n for n, on in (("dose teacher", dose), ("RGD", rgd), ("CBAM3D", cbam)) if not on]
    return "w/o " + ", ".join(off)


def ablation_variants(base: ExperimentConfig) -> list[Variant]:
    """Table II: the 8 on/off combinations of the dose teacher branch, RGD and CBAM3D on the base config.

    "w/o dose teacher" keeps only the PET/CT branch; "w/o RGD" zeroes :data:`RGD_WEIGHTS` (logit KD and
    the task loss stay); "w/o CBAM3D" replaces the shared attention by an identity in teacher and student.

    Raises:
        ValueError: if the base distiller is not ``reactkd`` (RGD is its part).
    """
    if base.distiller.name != "reactkd":
        raise ValueError(f"the ablation switches parts of the `reactkd` distiller; the base config uses "
                         f"{base.distiller.name!r}.")

    def edit_for(dose: bool, rgd: bool, cbam: bool):
        def edit(c: ExperimentConfig) -> ExperimentConfig:
            branches = c.teacher.branches if dose else [b for b in c.teacher.branches if b is not TeacherBranch.DOSE]
            c.teacher = replace(c.teacher, branches=branches or [TeacherBranch.PET_CT],
                                cbam=c.teacher.cbam if cbam else None)
            c.student = replace(c.student, cbam=c.teacher.cbam)
            if not rgd:
                c.distiller = replace(c.distiller, kwargs={**c.distiller.kwargs, **{w: 0.0 for w in RGD_WEIGHTS}})
            return c
        return edit

    return [Variant(ablation_name(*row), edit_for(*row)) for row in ABLATION_ROWS]
