#!/usr/bin/env python3
"""What distillation from a PET/CT teacher can add to a CT student on the embedded phantom, at best.

The phantom draws each patient's grade-linked traits from the grade (:mod:`reactkd.phantom.rules`);
the trait oracle (:mod:`reactkd.phantom.oracle`) reads the CT-visible ones (``CT_TRAITS``) or all of them
(``CT_TRAITS + PET_TRAITS``). This script draws patients straight from the rules, without rendering images
(``allocate_grades`` + ``draw_patient``; tumour count and volumes are the planned ones, 4/3 π r³ per tumour,
where a written cohort records what the masks hold after placement and voxelisation), so a network's
feature-extraction error is out of the picture and what is left is the privileged-information question.

Per cohort size and repetition (a fresh training cohort each), a linear CT student (the oracle's regression:
standardised multinomial logistic regression, scikit-learn, L2 with C = 1) is trained

(a) on the observed labels, and
(b) by generalized distillation (Lopez-Paz et al. 2016) on a PET/CT teacher's soft labels: the student
    minimises

    .. math:: \\frac{1}{n}\\sum_i (1-\\lambda)\\,\\ell(y_i, \\sigma(f(x_i))) + \\lambda\\,\\ell(s_i, \\sigma(f(x_i))),
              \\qquad s_i = \\sigma(f_t(x^*_i) / T),

    where ``x`` are the CT traits, ``x*`` the PET + CT traits, ``f_t`` the teacher (the same regression on
    ``x*``, fitted on the same observed labels) and ``ℓ`` the cross-entropy. The loss is linear in its target,
    so it is exactly a cross-entropy on the target ``q_i = (1-λ) onehot(y_i) + λ s_i``, fitted here as a
    weighted multinomial regression over the three classes (each patient once per class, weight ``q_ik``).

Teachers: ``in-sample`` (fitted on all training patients, soft labels on those same patients: what a
network teacher gives on the cases it trained on) and ``cross-fitted`` (each training patient's soft label
from a teacher fitted on the other folds, 5-fold stratified). Labels: as drawn, and with a share of them
(``--label-noise``, default 30 %) moved to an adjacent grade (grade 2 to 1 or 3 at random). Teacher and
student see the same observed labels; every AUC is the one-vs-rest macro AUC on a large fresh held-out
sample (``--test-patients``) against the true grades. The gain is (b) − (a) on the same training cohort;
rows give its mean ± std over the repetitions for every (λ, T) of the grid, the markdown table the best grid
point per setting (chosen on the held-out sample, so an upper bound). ``asymptote`` is the label-trained CT
student and the PET/CT teacher fitted on ``--asymptote-patients`` clean patients: no student of the CT traits
can beat the first by much, so the gain at size n is bounded by its distance to the label-trained student.

Why the gain is bounded here: the phantom's CT evidence is seven low-dimensional traits that, like the two
PET ratios, read one latent aggressiveness, each with its own independent noise. A teacher's soft label
estimates P(grade | PET, CT), and its mean given the CT traits is P(grade | CT) (the tower property), the
very target the labels give the student: soft labels lower the variance of the student's target (and, under
label noise, denoise it), but cannot tell it more than the CT holds. So the gain is bounded by the
label-trained student's distance to its asymptote, a few hundredths at these sizes. Generalized
distillation helps most where privileged features make examples easier to learn from few samples
(Lopez-Paz et al. 2016, their synthetic experiments); by the modality focusing hypothesis (Xue et al. 2023),
cross-modal distillation transfers the teacher's decisive features only as far as both modalities share
them, and what the PET adds (a sharper reading of the aggressiveness) is not in the CT.

References:
    1. Lopez-Paz D, Bottou L, Schölkopf B, Vapnik V. Unifying distillation and privileged information.
       ICLR 2016 (arXiv:1511.03643).
    2. Xue Z, Gao Z, Ren S, Zhao H. The modality focusing hypothesis: towards understanding crossmodal
       knowledge distillation. ICLR 2023 (arXiv:2206.06487).

Usage (about a minute on 2 cores at the default size)::

    PYTHONPATH=REACTKD benchmarks/privileged_ceiling.py [--sizes 40 60 100 150 200] [--repetitions 40]
        [--test-patients 2000] [--label-noise 0.3] [--lambdas 0.5 1] [--temperatures 1 2 5] [--seed 0]
        [--out result.json] [--markdown table.md] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reactkd.evaluate.metrics import ovr_auc
from reactkd.phantom.oracle import CT_TRAITS, PET_TRAITS, oracle_fold_probabilities, trait_features
from reactkd.phantom.rules import allocate_grades, draw_patient

TEACHERS = ("in-sample", "cross-fitted")
"""How the teacher's soft label of a training patient is made: by a teacher fitted on it, or not."""

DEFAULTS = {"sizes": [40, 60, 100, 150, 200], "repetitions": 40, "test_patients": 2000, "label_noise": 0.3,
            "lambdas": [0.5, 1.0], "temperatures": [1.0, 2.0, 5.0], "folds": 5, "asymptote_patients": 20000}
SMOKE = {"sizes": [40, 60], "repetitions": 2, "test_patients": 300, "lambdas": [1.0], "temperatures": [2.0],
         "asymptote_patients": 1000}

ROW_KEYS = ("patients", "label_noise", "teacher", "lambda", "temperature", "repetitions", "labels_auc_mean",
            "labels_auc_std", "distilled_auc_mean", "distilled_auc_std", "gain_mean", "gain_std",
            "gain_positive_share", "teacher_train_auc_mean", "teacher_heldout_auc_mean")
"""Keys of each entry of the result's ``rows``."""


@dataclass(frozen=True)
class Patients:
    """Patients drawn from the phantom's rules: ``grade (N,)`` in {1, 2, 3}, ``ct (N, 7)`` the CT traits,
    ``pet_ct (N, 9)`` the CT and PET traits, in the trait oracle's order."""

    grade: np.ndarray
    ct: np.ndarray
    pet_ct: np.ndarray


def draw_patients(n: int, rng: np.random.Generator) -> Patients:
    """``n`` patients in the phantom's grade proportions, their traits as the trait oracle reads them."""
    truth = {}
    for i, grade in enumerate(allocate_grades(n, rng)):
        spec = draw_patient(grade, rng)
        radii = [spec.main_radius_mm, *spec.satellite_radii_mm][: spec.n_tumours]
        truth[str(i)] = {"grade": grade, "n_tumours": spec.n_tumours,
                         "tumour_ml": [4.0 / 3.0 * math.pi * r**3 / 1000.0 for r in radii],
                         "dispersed_satellites": int(sum(spec.dispersed)), "washout_hu": spec.washout_hu,
                         "texture_hu": spec.texture_hu, "necrosis": spec.necrosis, "fdg_tlr": spec.fdg_tlr,
                         "acetate_tlr": spec.acetate_tlr}
    ids = list(truth)
    return Patients(np.array([truth[c]["grade"] for c in ids]), trait_features(truth, ids, CT_TRAITS),
                    trait_features(truth, ids, CT_TRAITS + PET_TRAITS))


def adjacent_grade_noise(grade: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """``grade (N,)`` with a share ``rate`` of the labels moved to an adjacent grade (2 to 1 or 3 at random)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"label noise rate must lie in [0, 1], got {rate}")
    flip = rng.random(len(grade)) < rate
    up = rng.random(len(grade)) < 0.5
    moved = np.where(grade == 1, 2, np.where(grade == 3, 2, np.where(up, 3, 1)))
    return np.where(flip, moved, grade)


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``σ(log p / T)`` of ``probs (N, 3)``: the teacher's probabilities at temperature ``T`` (a class of
    probability 0 stays at 0)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    with np.errstate(divide="ignore"):
        logits = np.log(probs) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def teacher_probabilities(x: np.ndarray, y: np.ndarray, teacher: str, folds: int, seed: int) -> np.ndarray:
    """``(N, 3)`` teacher probabilities of every training patient: ``in-sample`` from the regression fitted
    on all of ``x, y``, ``cross-fitted`` from the one fitted on the other ``folds - 1`` stratified folds."""
    if teacher == "in-sample":
        return oracle_fold_probabilities(x, y, x)
    if teacher != "cross-fitted":
        raise ValueError(f"teacher must be one of {TEACHERS}, got {teacher!r}")
    out = np.zeros((len(y), 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a grade rarer than `folds` in a small noisy cohort
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y))
    for train, held in splits:
        out[held] = oracle_fold_probabilities(x[train], y[train], x[held])
    return out


def student_probabilities(x_train: np.ndarray, targets: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """``(N_test, 3)`` probabilities of the oracle's regression fitted by cross-entropy to soft ``targets
    (N, 3)`` (rows summing to 1): each training patient once per grade, weighted by its target. With one-hot
    targets it is the oracle's regression on the labels."""
    n = len(x_train)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant traits in a small cohort: the scaler leaves them at 0
        model.fit(np.concatenate([x_train] * 3), np.repeat([1, 2, 3], n),
                  logisticregression__sample_weight=targets.T.ravel())
        return model.predict_proba(x_test)


def one_hot(grade: np.ndarray) -> np.ndarray:
    """``(N, 3)`` one-hot targets of ``grade (N,)`` in {1, 2, 3}."""
    return np.eye(3)[grade - 1]


def distillation_targets(grade: np.ndarray, teacher: np.ndarray, lam: float, temperature: float) -> np.ndarray:
    """``(N, 3)`` targets of generalized distillation: ``(1 - λ) onehot(y) + λ σ(log p_t / T)`` of the observed
    ``grade (N,)`` and the teacher's probabilities ``teacher (N, 3)``."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"imitation weight λ must lie in [0, 1], got {lam}")
    return (1 - lam) * one_hot(grade) + lam * soften(teacher, temperature)


def repetition(train: Patients, y: np.ndarray, test: Patients, lambdas: list[float], temperatures: list[float],
               folds: int, seed: int) -> list[dict]:
    """One training cohort with observed labels ``y``: per teacher and (λ, T), the label-trained and the
    distilled student's held-out AUC and the teacher's AUC on its training patients (the soft labels it gives
    them) and held out, all against the true grades."""
    labels_auc = ovr_auc(test.grade, student_probabilities(train.ct, one_hot(y), test.ct))
    teacher_heldout = ovr_auc(test.grade, oracle_fold_probabilities(train.pet_ct, y, test.pet_ct))
    out = []
    for teacher in TEACHERS:
        probs = teacher_probabilities(train.pet_ct, y, teacher, folds, seed)
        teacher_train = ovr_auc(train.grade, probs)
        for lam, temperature in product(lambdas, temperatures):
            targets = distillation_targets(y, probs, lam, temperature)
            auc = ovr_auc(test.grade, student_probabilities(train.ct, targets, test.ct))
            out.append({"teacher": teacher, "lambda": lam, "temperature": temperature, "labels_auc": labels_auc,
                        "distilled_auc": auc, "teacher_train_auc": teacher_train,
                        "teacher_heldout_auc": teacher_heldout})
    return out


def _summary(n: int, noise: float, runs: list[dict]) -> dict:
    labels = np.array([r["labels_auc"] for r in runs])
    distilled = np.array([r["distilled_auc"] for r in runs])
    gain = distilled - labels
    first = runs[0]
    row = {"patients": n, "label_noise": noise, "teacher": first["teacher"], "lambda": first["lambda"],
           "temperature": first["temperature"], "repetitions": len(runs),
           "labels_auc_mean": labels.mean(), "labels_auc_std": labels.std(),
           "distilled_auc_mean": distilled.mean(), "distilled_auc_std": distilled.std(),
           "gain_mean": gain.mean(), "gain_std": gain.std(), "gain_positive_share": float(np.mean(gain > 0)),
           "teacher_train_auc_mean": float(np.mean([r["teacher_train_auc"] for r in runs])),
           "teacher_heldout_auc_mean": float(np.mean([r["teacher_heldout_auc"] for r in runs]))}
    return {k: round(float(v), 4) if isinstance(v, (float, np.floating)) else v for k, v in row.items()}


def run(sizes: list[int], repetitions: int, test_patients: int, label_noise: float, lambdas: list[float],
        temperatures: list[float], folds: int, asymptote_patients: int, seed: int) -> dict:
    """The whole benchmark as one JSON-ready dict: ``benchmark``, ``config``, ``asymptote``, ``rows`` (one per
    size, label noise, teacher and (λ, T), keys :data:`ROW_KEYS`) and ``seconds``. Each repetition's training
    cohort is the same with and without label noise, so the two are paired too.

    Raises:
        ValueError: a size under two patients per cross-fitting fold, no repetition, too few test patients.
    """
    if min(sizes) < 2 * folds or folds < 2 or repetitions < 1 or test_patients < 30 or asymptote_patients < 30:
        raise ValueError(f"need sizes >= 2 x folds (folds >= 2), repetitions >= 1 and at least 30 test and asymptote "
                         f"patients; got sizes {sizes}, folds {folds}, repetitions {repetitions}, test "
                         f"{test_patients}, asymptote {asymptote_patients}")
    started = time.perf_counter()
    test = draw_patients(test_patients, np.random.default_rng([seed, 0]))
    big = draw_patients(asymptote_patients, np.random.default_rng([seed, 1]))
    asymptote = {"ct_student_auc": ovr_auc(test.grade, student_probabilities(big.ct, one_hot(big.grade), test.ct)),
                 "pet_ct_teacher_auc": ovr_auc(test.grade, oracle_fold_probabilities(big.pet_ct, big.grade,
                                                                                       test.pet_ct))}
    per_setting: dict[tuple[int, float], list[list[dict]]] = {}
    for n, r in product(sizes, range(repetitions)):
        train = draw_patients(n, np.random.default_rng([seed, 2, n, r]))
        for noise in sorted({0.0, label_noise}):
            y = adjacent_grade_noise(train.grade, noise, np.random.default_rng([seed, 3, n, r]))
            per_setting.setdefault((n, noise), []).append(
                repetition(train, y, test, lambdas, temperatures, folds, seed + r))
    rows = [_summary(n, noise, [rep[k] for rep in runs])
            for (n, noise), runs in per_setting.items() for k in range(len(runs[0]))]
    config = {"sizes": sizes, "repetitions": repetitions, "test_patients": test_patients, "label_noise": label_noise,
              "lambdas": lambdas, "temperatures": temperatures, "folds": folds, "seed": seed,
              "ct_traits": list(CT_TRAITS), "pet_ct_traits": list(CT_TRAITS + PET_TRAITS)}
    return {"benchmark": "privileged_ceiling", "config": config,
            "asymptote": {"patients": asymptote_patients, **{k: round(float(v), 4) for k, v in asymptote.items()}},
            "rows": rows, "seconds": round(time.perf_counter() - started, 1)}


def best_rows(result: dict) -> dict[tuple[int, float, str], dict]:
    """``(patients, label_noise, teacher) → row`` with the largest mean gain over the (λ, T) grid."""
    best: dict[tuple[int, float, str], dict] = {}
    for row in result["rows"]:
        key = (row["patients"], row["label_noise"], row["teacher"])
        if key not in best or row["gain_mean"] > best[key]["gain_mean"]:
            best[key] = row
    return best


def _pm(mean: float, std: float, signed: bool = False) -> str:
    return f"{mean:+.3f} ± {std:.3f}" if signed else f"{mean:.3f} ± {std:.3f}"


def markdown_table(result: dict) -> str:
    """Two tables: per size, the label-trained CT student's AUC and, per label noise and teacher, the best
    mean ± std gain of the (λ, T) grid; per size and label noise, the teachers' AUC on their training patients
    and held out."""
    best = best_rows(result)
    noises, sizes = sorted({k[1] for k in best}), sorted({k[0] for k in best})
    pct = {e: f"{100 * e:g} %" for e in noises}
    head = ["patients"] + [f"CT student on labels, {pct[e]} noise" for e in noises] + [
        f"gain, {t} teacher, {pct[e]} noise" for e in noises for t in TEACHERS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n in sizes:
        cells = [str(n)] + [_pm(best[n, e, TEACHERS[0]]["labels_auc_mean"], best[n, e, TEACHERS[0]]["labels_auc_std"])
                            for e in noises]
        cells += [f"{_pm(row['gain_mean'], row['gain_std'], True)} ({100 * row['gain_positive_share']:.0f} % > 0; "
                  f"λ {row['lambda']:g}, T {row['temperature']:g})"
                  for e in noises for row in (best[n, e, t] for t in TEACHERS)]
        lines.append("| " + " | ".join(cells) + " |")
    a, c = result["asymptote"], result["config"]
    note = (f"Macro one-vs-rest AUC on {c['test_patients']} fresh patients against the true grades, mean ± std over "
            f"{c['repetitions']} training cohorts per size; gain = distilled − label-trained student on the same "
            f"cohort and labels (in brackets: the share of cohorts where it is positive), at the best (λ, T) of "
            f"λ ∈ {c['lambdas']}, T ∈ {c['temperatures']} (chosen on the held-out sample: an upper bound). "
            f"Trained on {a['patients']} clean patients, the CT student reaches "
            f"{a['ct_student_auc']:.3f} and the PET/CT teacher {a['pet_ct_teacher_auc']:.3f}.")
    head = ["patients", "label noise", "teacher AUC on its training patients, in-sample",
            "same, cross-fitted (out of fold)", "teacher AUC held out"]
    lines += ["", note, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for n, e in product(sizes, noises):
        inside, crossed = best[n, e, TEACHERS[0]], best[n, e, TEACHERS[1]]
        lines.append(f"| {n} | {pct[e]} | {inside['teacher_train_auc_mean']:.3f} | "
                     f"{crossed['teacher_train_auc_mean']:.3f} | {inside['teacher_heldout_auc_mean']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", help=f"training cohort sizes (default {DEFAULTS['sizes']})")
    parser.add_argument("--repetitions", type=int, help="training cohorts per size (default 40)")
    parser.add_argument("--test-patients", type=int, help="fresh held-out patients (default 2000)")
    parser.add_argument("--label-noise", type=float, help="share of labels moved to an adjacent grade (default 0.3)")
    parser.add_argument("--lambdas", type=float, nargs="+", help="imitation weights λ (default 0.5 1)")
    parser.add_argument("--temperatures", type=float, nargs="+", help="teacher temperatures T (default 1 2 5)")
    parser.add_argument("--folds", type=int, help="cross-fitting folds (default 5)")
    parser.add_argument("--asymptote-patients", type=int, help="clean patients of the asymptote (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a tiny size for tests (seconds)")
    parser.add_argument("--out", type=Path, help="also write the JSON object here")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args(argv)
    settings = {**DEFAULTS, **(SMOKE if args.smoke else {})}
    settings.update({k: v for k, v in vars(args).items() if k in DEFAULTS and v is not None})
    try:
        result = run(seed=args.seed, **settings)
    except ValueError as exc:
        print(f"privileged_ceiling: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown_table(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
