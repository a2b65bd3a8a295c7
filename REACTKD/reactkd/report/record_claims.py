"""The paper's claims against the record's tables: claim, our test, our figure, what bounds it, verdict.

Verdict rule (written under the table, so the record states it too):

- **paired claims** (Tables I and II: REACT-KD beats each other distiller, distillation beats the same student on
  labels alone, each component helps): *supported* when the paired per-fold AUC difference (``paired.csv``,
  every (seed, fold) pair) is in the claimed direction **and** its two-sided Wilcoxon p is below
  :data:`~reactkd.report.record_tables.ALPHA`; otherwise *not supported* (no difference shown, or the other way);
- **robustness claims** (Tables III and IV, the external cohort): *supported* when the AUC under the condition is
  within :data:`MARGIN` of the AUC it is compared with (the paper: severe dose costs ≤ 4.93 AUC points) **and**
  the CT-only figure is off chance (mean − std over folds > 0.5): a student that does not read the CT is
  trivially unmoved by the CT's dose;
- *not measured* where the record has no section with the table.

Bounds: the trait-oracle rows (a regression on the phantom's hidden traits, :mod:`reactkd.phantom.oracle`: what
the images hold at the cohort's size) and, for distillation, the privileged-information ceiling of
``benchmarks/privileged_ceiling.py`` (``--ceiling``: the most a PET/CT teacher's soft labels added to a linear CT
student on the phantom's traits at that number of training patients) and the fold teachers' held-out AUC against
their students' (a run report's fit gap, :mod:`reactkd.report.record_fit_gap`: a teacher no better than its student
held out has little to pass on).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reactkd.evaluate.tables import Table
from reactkd.report.record_section import Section, config_name
from reactkd.report.record_tables import ALPHA, Paired

__all__ = ["Claim", "claim_rows", "claims_markdown", "read_ceiling", "MARGIN", "RULES"]

MARGIN = 0.05
"""AUC a robustness condition may lose and still count as robust (the paper: ≤ 4.93 points at severe dose)."""

REFERENCE, ALONE = "REACT-KD", "Student alone (no teacher)"
COMPONENTS = {"The dose-aware teacher": "w/o dose teacher", "Region Graph Distillation (RGD)": "w/o RGD",
              "CBAM3D": "w/o CBAM3D"}
PET_CT, CT_ONLY = "PET + CT", "CT only (PET withheld)"
NATIVE, SEVERE = "native", "severe (25 % dose)"
ORACLE_CT, ORACLE_ALL = "trait oracle (CT)", "trait oracle (all)"
SUPPORTED, NOT_SUPPORTED, NOT_MEASURED = "supported", "not supported", "not measured"

RULES = (f"Verdicts: a paired claim is *supported* when the mean per-fold AUC difference (`paired.csv`) is in the "
         f"claimed direction and its two-sided Wilcoxon p < {ALPHA}; a robustness claim when the AUC under the "
         f"condition is within {MARGIN} of the one it is compared with and the CT-only AUC is off chance (mean − std "
         f"over folds > 0.5); *not measured* where no section holds the table. Trait oracle: a regression on the "
         f"phantom's hidden traits (what the images hold at this cohort size); ceiling: "
         f"`benchmarks/privileged_ceiling.py` (`--ceiling`); teachers held out: the fold teachers' and students' "
         f"held-out AUC of a run report's fit gap, where the record has one of the same config.")


@dataclass(frozen=True)
class Claim:
    claim: str
    test: str
    figure: str
    bound: str
    verdict: str


def read_ceiling(path: Path) -> dict:
    """The JSON of ``benchmarks/privileged_ceiling.py --out``.

    Raises:
        FileNotFoundError: no such file. ValueError: not that benchmark's JSON.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"--ceiling {path}: no such file.")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"--ceiling {path}: not readable JSON ({err}).") from None
    if not isinstance(data, dict) or data.get("benchmark") != "privileged_ceiling" or not data.get("rows"):
        raise ValueError(f"--ceiling {path}: not the JSON of benchmarks/privileged_ceiling.py (`benchmark`, `rows`).")
    return data


def _ceiling_bound(ceiling: dict | None, patients, folds) -> str:
    """The ceiling's best mean gain (clean labels) at the size nearest the suite's training patients per fold."""
    if ceiling is None:
        return "privileged-information ceiling not given (`--ceiling`)"
    cleanest = min(r.get("label_noise", 0) for r in ceiling["rows"])
    rows = [r for r in ceiling["rows"] if r.get("label_noise", 0) == cleanest]
    train = patients * (folds - 1) / folds if patients and folds else None
    sizes = sorted({r["patients"] for r in rows})
    size = min(sizes, key=lambda n: abs(n - train)) if train else max(sizes)
    best = max((r for r in rows if r["patients"] == size), key=lambda r: r["gain_mean"])
    return (f"privileged-information ceiling at {size} training patients: {best['gain_mean']:+.3f} ± "
            f"{best['gain_std']:.3f} AUC (best teacher and (λ, T) on the phantom's traits)")


def _off_chance(auc: tuple[float, float] | None) -> bool:
    if auc is None:
        return False
    mean, std = auc
    return mean - (0.0 if math.isnan(std) else std) > 0.5


def _fmt(auc: tuple[float, float] | None) -> str:
    if auc is None or math.isnan(auc[0]):
        return "n/a"
    return f"{auc[0]:.3f}" + ("" if math.isnan(auc[1]) else f" ± {auc[1]:.3f}")


def _drop(reference: tuple[float, float], condition: tuple[float, float]) -> float:
    """AUC lost under the condition (rounded: the tables give 3 decimals)."""
    return round(reference[0] - condition[0], 6)


def _paired_claim(claim: str, test: str, pairs: dict[str, Paired], bound: str) -> Claim:
    """Supported when every pair is below the reference with p < ALPHA; the figure names the weakest pair."""
    worst = max(pairs.items(), key=lambda kv: (not kv[1].lower_significantly(), kv[1].delta))
    held = sum(p.lower_significantly() for p in pairs.values())
    count = f"{held}/{len(pairs)} lower at p < {ALPHA}; " if len(pairs) > 1 else ""
    return Claim(claim, test, f"{count}{worst[0]}: {worst[1].describe()}", bound,
                 SUPPORTED if held == len(pairs) else NOT_SUPPORTED)


class _Claims:
    """Builds the rows: one method per claim, each returning its claim text, the test it needs and the rows
    found (empty: not measured)."""

    def __init__(self, sections: list[Section], label: Callable[[Path], str], ceiling: dict | None):
        self.sections, self.label, self.ceiling = sections, label, ceiling

    def where(self, s: Section, file: str = "") -> str:
        return f"`{self.label(s.source)}{file}`" + (" (**stale**)" if s.stamp.stale else "")

    def of(self, kind: str) -> list[Section]:
        return [s for s in self.sections if s.kind == kind]

    def ct_only(self, s: Section) -> tuple[Section | None, tuple[float, float] | None]:
        """The Table III section made from the same folder as ``s``, and its CT-only AUC."""
        table3 = next((t for t in self.of("table3") if t.source == s.source), None)
        return table3, table3.facts["auc"].get(CT_ONLY) if table3 else None

    def compare(self) -> list[Section]:
        return [s for s in self.of("compare") if s.facts.get("reference") == REFERENCE]

    def beats_baselines(self):
        claim, found = "REACT-KD's student beats the other distillers (Table I)", []
        for s in self.compare():
            others = {k: v for k, v in s.facts.get("paired", {}).items() if k != ALONE}
            if others:
                auc = s.facts["auc"]
                bound = f"{ORACLE_ALL} {_fmt(auc.get(ORACLE_ALL))}; REACT-KD {_fmt(auc.get(REFERENCE))}"
                test = "every distiller vs REACT-KD, paired over (seed, fold): " + self.where(s, "/paired.csv")
                found.append(_paired_claim(claim, test, others, bound))
        return claim, "Table I, paired", found

    def fit_gaps(self, name: str) -> list[str]:
        """The fold teachers against their students held out, from each fit-gap section of config ``name``."""
        out = []
        for s in (s for s in self.of("fit_gap") if config_name(s.stamp) == name):
            f = s.facts
            out.append(f"teachers held out {_fmt(f.get('teacher_held_out'))} vs students "
                       f"{_fmt(f.get('student_held_out'))} (teachers' training-set {_fmt(f.get('teacher_training'))}): "
                       + self.where(s))
        return out

    def distillation_helps(self):
        claim, found = "Distillation lifts the student above the same student on labels alone (Table I)", []
        for s in self.compare():
            alone = s.facts.get("paired", {}).get(ALONE)
            if alone is not None:
                bound = "; ".join([f"{ORACLE_CT} {_fmt(s.facts['auc'].get(ORACLE_CT))}",
                                   _ceiling_bound(self.ceiling, s.facts.get("patients"), s.facts.get("folds")),
                                   *self.fit_gaps(config_name(s.stamp))])
                found.append(_paired_claim(claim, f"`{ALONE}` vs REACT-KD, paired: " + self.where(s, "/paired.csv"),
                                           {ALONE: alone}, bound))
        return claim, f"Table I, paired `{ALONE}` row", found

    def component_helps(self, component: str, row: str):
        claim = f"{component} helps (Table II)"
        found = [_paired_claim(claim, f"`{row}` vs the full model, paired: " + self.where(s, "/paired.csv"),
                               {row: s.facts["paired"][row]}, "—")
                 for s in self.of("ablate") if row in s.facts.get("paired", {})]
        return claim, f"Table II, paired `{row}` row", found

    def missing_modality(self):
        claim, found = "Robust to a missing modality: with the PET withheld the student keeps its AUC (Table III)", []
        for s in (s for s in self.of("table3") if {PET_CT, CT_ONLY} <= set(s.facts["auc"])):
            auc = s.facts["auc"]
            drop = _drop(auc[PET_CT], auc[CT_ONLY])
            ok = drop <= MARGIN and _off_chance(auc[CT_ONLY])
            found.append(Claim(claim, f"`{CT_ONLY}` vs `{PET_CT}`: " + self.where(s),
                               f"{_fmt(auc[CT_ONLY])} vs {_fmt(auc[PET_CT])} (Δ {-drop:+.3f})",
                               f"{ORACLE_CT} {_fmt(auc.get(ORACLE_CT))} vs {ORACLE_ALL} {_fmt(auc.get(ORACLE_ALL))}",
                               SUPPORTED if ok else NOT_SUPPORTED))
        return claim, "Table III", found

    def dose(self):
        claim, found = f"Robust to dose: a severe (25 %) CT dose costs at most {MARGIN} AUC (Table IV)", []
        for s in (s for s in self.of("table4") if {NATIVE, SEVERE} <= set(s.facts["auc"])):
            auc, noise = s.facts["auc"], s.facts.get("noise", {})
            drop = _drop(auc[NATIVE], auc[SEVERE])
            ct_only = self.ct_only(s)[1]
            liver = f"; liver noise {noise.get(NATIVE)} → {noise.get(SEVERE)} HU" if noise else ""
            found.append(Claim(claim, f"`{SEVERE}` vs `{NATIVE}`: " + self.where(s),
                               f"{_fmt(auc[SEVERE])} vs {_fmt(auc[NATIVE])} (Δ {-drop:+.3f}){liver}",
                               f"CT-only AUC {_fmt(ct_only)} (Table III of the same runs): a student that does not "
                               "read the CT is unmoved by its dose",
                               SUPPORTED if drop <= MARGIN and _off_chance(ct_only) else NOT_SUPPORTED))
        for s in (s for s in self.of("external_dose") if {NATIVE, SEVERE} <= set(s.facts.get("by_dose") or {})):
            auc, noise = s.facts["by_dose"], s.facts.get("noise", {})  # a CT-only cohort: the paper's Table IV
            drop = _drop(auc[NATIVE], auc[SEVERE])
            liver = f"; liver noise {noise.get(NATIVE)} → {noise.get(SEVERE)} HU" if noise else ""
            found.append(Claim(claim, f"cohort `{s.facts['cohort']}`, CT only, `{SEVERE}` vs `{NATIVE}`: "
                               + self.where(s), f"{_fmt(auc[SEVERE])} vs {_fmt(auc[NATIVE])} (Δ {-drop:+.3f}){liver}",
                               "the CT-only student's own AUC at native dose",
                               SUPPORTED if drop <= MARGIN and _off_chance(auc[NATIVE]) else NOT_SUPPORTED))
        return claim, "Table IV", found

    def external(self):
        claim, found, seen = "The CT-only student holds on an external CT-only site (external test)", [], set()
        for s in (s for s in self.of("external") + self.of("external_dose") if s.facts.get("auc")):
            if (s.source, s.facts["cohort"]) in seen:  # its evaluation and its Table IV: the first counts
                continue
            seen.add((s.source, s.facts["cohort"]))
            table3, internal = self.ct_only(s)
            ext = s.facts["auc"]
            ok = _off_chance(ext) and internal is not None and _drop(internal, ext) <= MARGIN
            oracle = table3.facts["auc"].get(ORACLE_CT) if table3 else None
            found.append(Claim(claim, f"cohort `{s.facts['cohort']}`, CT only: " + self.where(s), _fmt(ext),
                               f"internal CT-only AUC {_fmt(internal)}; {ORACLE_CT} {_fmt(oracle)}",
                               SUPPORTED if ok else NOT_SUPPORTED))
        return claim, "another cohort, CT only", found


def claim_rows(sections: list[Section], label: Callable[[Path], str], ceiling: dict | None = None) -> list[Claim]:
    """Every claim against every section that tests it (``label`` names a section's folder); a claim no
    section tests is one *not measured* row."""
    c = _Claims(sections, label, ceiling)
    rows: list[Claim] = []
    for claim, test, found in (c.beats_baselines(), c.distillation_helps(),
                               *(c.component_helps(k, v) for k, v in COMPONENTS.items()),
                               c.missing_modality(), c.dose(), c.external()):
        rows.extend(found or [Claim(claim, test, "not measured", "—", NOT_MEASURED)])
    return rows


def claims_markdown(rows: list[Claim]) -> list[str]:
    """The claims table and, under it, the rule its verdicts follow."""
    table = Table(("Claim (paper)", "Our test", "Our figure", "Bounded by", "Verdict"),
                  tuple((r.claim, r.test, r.figure, r.bound, r.verdict) for r in rows))
    return [table.to_markdown(), RULES]
