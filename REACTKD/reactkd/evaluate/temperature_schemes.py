"""Calibration schemes: how a run's fold students get their temperatures from their validation cases.

A scheme is a named strategy: given each fold student's logits and labels on that fold's own validation
split (the cases that chose its best epoch, never its test fold), it returns one temperature per fold
(temperature scaling, :mod:`reactkd.evaluate.calibration`). With a few validation cases per fold the
per-fold fit is noisy; the other schemes trade that variance for bias:

- ``per-fold``: each fold's ``T_k`` fitted on its own validation cases alone (Guo et al. 2017).
- ``pooled``: one ``T`` fitted on all folds' validation cases pooled (each student's logits on its own
  cases), used by every fold: ``Σ n_k`` cases for one parameter, assuming students trained alike are
  mis-calibrated alike.
- ``shrunk``: the per-fold fit shrunk towards ``T = 1`` in log space,
  ``log T = n_k / (n_k + n0) · log T_k`` — the posterior mean of the normal–normal model (Gelman et al.,
  Bayesian Data Analysis, 3rd ed., 2013, §2.5): ``log T_k`` estimated with variance ``σ²/n_k`` around the
  fold's true ``log T``, which has the prior ``N(0, τ²)``, gives the weight ``n_k / (n_k + σ²/τ²)``.
  ``n0 = σ²/τ²`` (:data:`SHRINK_N0`): ``σ² = 1/I``, where ``I = Var_p(z/T)`` is one case's Fisher
  information about ``log T`` (the NLL's expected curvature in ``log T``); for the demo students' logits
  ``I ≈ 0.28`` at ``T = 1``, so ``σ² ≈ 3.6``; ``τ = 0.5`` puts 95 % of the prior within
  ``T ∈ [0.37, 2.7]``. Hence ``n0 = 3.6 / 0.25 ≈ 15`` cases: ten validation cases move ``log T`` 40 % of the
  way to their own fit.
- ``none``: ``T = 1`` (the students' probabilities as trained).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from reactkd.evaluate.calibration import fit_temperature

__all__ = ["TemperatureScheme", "SCHEMES", "DEFAULT_SCHEME", "SHRINK_N0", "temperature_scheme",
           "per_fold_temperatures", "pooled_temperatures", "shrunk_temperatures", "no_temperatures"]

FoldValidation = tuple[np.ndarray, np.ndarray]
"""One fold's validation ``(logits (N, K), labels (N,) 0-based)``."""

SHRINK_N0 = 15.0
"""Prior weight of ``T = 1`` in the ``shrunk`` scheme, in validation cases (module docstring: why 15)."""


def per_fold_temperatures(folds: Sequence[FoldValidation]) -> list[float]:
    """``T_k`` fitted on fold ``k``'s validation cases alone."""
    return [fit_temperature(z, y) for z, y in folds]


def pooled_temperatures(folds: Sequence[FoldValidation]) -> list[float]:
    """One ``T`` fitted on every fold's validation cases pooled, the same for each fold."""
    t = fit_temperature(np.concatenate([z for z, _ in folds]), np.concatenate([y for _, y in folds]))
    return [t] * len(folds)


def shrunk_temperatures(folds: Sequence[FoldValidation], n0: float = SHRINK_N0) -> list[float]:
    """``exp(n_k / (n_k + n0) · log T_k)``: the per-fold fit shrunk towards 1 by ``n0`` prior cases."""
    if n0 < 0:
        raise ValueError(f"`n0` must be >= 0, got {n0}.")
    return [float(np.exp(len(y) / (len(y) + n0) * np.log(t)))
            for (_, y), t in zip(folds, per_fold_temperatures(folds), strict=True)]


def no_temperatures(folds: Sequence[FoldValidation]) -> list[float]:
    """``T = 1`` for every fold."""
    return [1.0] * len(folds)


@dataclass(frozen=True)
class TemperatureScheme:
    """A named way to give each fold its temperature: ``fit(folds) -> [T_k]`` and the sentence that says
    how (written to ``calibration.json`` as ``method`` and shown in the run report)."""

    name: str
    method: str
    fit: Callable[[Sequence[FoldValidation]], list[float]]

    def __call__(self, folds: Sequence[FoldValidation]) -> list[float]:
        if not folds:
            raise ValueError("a calibration scheme needs at least one fold's validation cases.")
        return self.fit(folds)


_GUO = "temperature scaling (Guo et al., ICML 2017)"
SCHEMES: dict[str, TemperatureScheme] = {s.name: s for s in (
    TemperatureScheme("per-fold", f"{_GUO}, T fitted by L-BFGS on the fold's validation NLL", per_fold_temperatures),
    TemperatureScheme("pooled", f"{_GUO}, one T fitted by L-BFGS on the validation NLL of every fold pooled "
                                "(each student on its own validation cases)", pooled_temperatures),
    TemperatureScheme("shrunk", f"{_GUO}, the fold's T fitted on its validation NLL and shrunk towards 1: "
                                f"log T = n/(n + {SHRINK_N0:g}) · log T_fold", shrunk_temperatures),
    TemperatureScheme("none", "no temperature scaling (T = 1)", no_temperatures),
)}

DEFAULT_SCHEME = "none"
"""The scheme ``reactkd calibrate`` and the run report use unless told otherwise. A scheme is the default only
if it lowers the expected calibration error both on held-out folds and for the fold ensemble on a fresh cohort
(``benchmarks/calibration_schemes.py``, over three seeds of ``demo-cpu``); none of the fitted ones did there (ten
validation cases a fold move a temperature too far: docs/results.md), so the students' own probabilities ship."""


def temperature_scheme(name: str) -> TemperatureScheme:
    """The scheme called ``name``.

    Raises:
        ValueError: no such scheme (the message names the choices).
    """
    if name not in SCHEMES:
        raise ValueError(f"unknown calibration scheme {name!r}: choose one of {', '.join(SCHEMES)}.")
    return SCHEMES[name]
