"""Grade one case with the ensemble of a run's fold students: calibrated, with its uncertainty.

Each fold student's logits are divided by its fold's temperature (``fold{k}/calibration.json``, fitted on
that fold's validation split; :mod:`reactkd.inference.calibrate`; T = 1 where a fold has none), and
the ensemble's probabilities are the mean of the members' calibrated probabilities (a deep ensemble,
Lakshminarayanan et al., NeurIPS 2017). Uncertainty, in ``result["uncertainty"]``:

- ``probability_std``: per grade, the standard deviation of the members' probabilities (their spread;
  0 for a single model) — how much models trained on different patients disagree;
- ``agreement``: the share of members whose own grade is the ensemble's grade;
- ``entropy``: the predictive entropy of the mean probabilities over ``log 3`` (0 = certain, 1 = uniform),
  which holds the calibrated model's own doubt as well as the members' disagreement.

Node attention, edges and the attention map are the members' means (``attention_std`` per node).
``result["domain_warnings"]`` lists where the case lies outside the run's training domain
(:mod:`reactkd.inference.domain`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch

from reactkd import GRADES
from reactkd.config.run_dir import read_run_info
from reactkd.evaluate.calibration import scaled_probabilities
from reactkd.inference.attention import attention_definition
from reactkd.inference.domain import case_statistics, domain_warnings, read_domain
from reactkd.inference.load import load_student
from reactkd.inference.predict import EDGE_DEFINITION, explain_case, prepare_case
from reactkd.io.case import Case

__all__ = ["Member", "Ensemble", "load_ensemble", "predict_with_ensemble", "UNCERTAINTY_DEFINITION"]

UNCERTAINTY_DEFINITION = ("probability_std: per-grade standard deviation of the fold students' calibrated "
                          "probabilities; agreement: share of fold students voting the ensemble grade; entropy: "
                          "entropy of the mean probabilities / log(3)")
_TINY = 1e-30


@dataclass
class Member:
    """One fold student: ``fold`` (None for a lone checkpoint), the model, its checkpoint metadata and
    temperature (``calibrated``: read from a calibration.json, else 1)."""

    fold: int | None
    student: torch.nn.Module
    metadata: dict
    temperature: float = field(kw_only=True)
    calibrated: bool = field(kw_only=True)


@dataclass
class Ensemble:
    members: list[Member]
    domain: dict | None
    source: Path

    @property
    def tracers(self) -> list[str]:
        """The PET tracers the members read (none for CT-only students)."""
        m = self.members[0]
        return list(m.metadata.get("inputs", {}).get("pet_tracers", [])) if m.student.spec.pet_channels else []


def _member(path: Path, device, fold: int | None) -> Member:
    student, meta = load_student(path, device)
    calibration = path.parent.parent / "calibration.json"  # fold{k}/student/best.pt → fold{k}/calibration.json
    if calibration.is_file():
        temperature = float(json.loads(calibration.read_text())["temperature"])
        return Member(fold, student, meta, temperature=temperature, calibrated=True)
    return Member(fold, student, meta, temperature=1.0, calibrated=False)


def load_ensemble(model: str | os.PathLike, device: str | torch.device = "cpu") -> Ensemble:
    """A run folder → every ``fold*/student/best.pt``; a checkpoint file → that student alone.

    Raises:
        FileNotFoundError: no such file, or a folder without trained fold students.
    """
    path = Path(model)
    if path.is_file():
        run = path.parent.parent.parent
        fold = int(path.parent.parent.name[4:]) if path.parent.parent.name[4:].isdigit() else None
        return Ensemble([_member(path, device, fold)], read_domain(run), path)
    if not path.is_dir():
        raise FileNotFoundError(f"model not found: {path} (give a run folder or a checkpoint file)")
    read_run_info(path)
    found = sorted(path.glob("fold*/student/best.pt"), key=lambda p: int(p.parent.parent.name[4:] or 0))
    if not found:
        raise FileNotFoundError(f"{path} holds no trained student (fold*/student/best.pt).")
    return Ensemble([_member(p, device, int(p.parent.parent.name[4:])) for p in found], read_domain(path), path)


def predict_with_ensemble(ensemble: Ensemble, case: Case, device: str | torch.device = "cpu",
                          precision: str = "fp32") -> tuple[dict, sitk.Image]:
    """Returns ``(result, attention_image)`` — the fields of :func:`reactkd.inference.predict.predict_case` (means
    over the members) plus ``uncertainty``, ``members`` and ``domain_warnings``. ``precision``: as for
    :func:`~reactkd.inference.predict.predict_case` (fp32 by default: the same probabilities on every CPU)."""
    prepared: dict[str, object] = {}
    probs, attn, maps, sims, members = [], [], [], [], []
    for m in ensemble.members:
        key = json.dumps(m.metadata["preprocess"], sort_keys=True)  # one preprocessing per distinct config
        if key not in prepared:
            prepared[key] = prepare_case(m.metadata, case, device)
        p, a, image, edges = explain_case(m.student, prepared[key], precision)
        log_p = np.log(np.clip(np.asarray(p, np.float64), _TINY, 1.0))
        calibrated = scaled_probabilities(log_p[None], m.temperature)[0]
        probs.append(calibrated)
        attn.append(a)
        maps.append(image)
        sims.append(edges)
        members.append({"fold": m.fold, "temperature": round(m.temperature, 6), "calibrated": m.calibrated,
                        "probabilities": _by_grade(calibrated)})
    graph = next(iter(prepared.values())).graph
    probs, attn = np.stack(probs), np.stack(attn)
    mean = probs.mean(0)
    grade = int(GRADES[int(np.argmax(mean))])
    entropy = float(-(mean * np.log(np.clip(mean, _TINY, 1))).sum() / np.log(len(GRADES)))
    agreement = float(np.mean([int(GRADES[int(np.argmax(p))]) == grade for p in probs]))
    edges = [{"i": e["i"], "j": e["j"], "similarity": round(float(np.mean([es[n]["similarity"] for es in sims])), 6)}
             for n, e in enumerate(sims[0])]
    nodes = [{**n.to_dict(), "attention": round(float(a), 6), "attention_std": round(float(s), 6)}
             for n, a, s in zip(graph.nodes, attn.mean(0), attn.std(0))]
    image = sitk.GetImageFromArray(np.mean(maps, 0).astype(np.float32))
    image.CopyInformation(case.ct)
    result = {
        "case_id": case.case_id,
        "probabilities": _by_grade(mean),
        "grade": grade,
        "uncertainty": {"probability_std": _by_grade(probs.std(0)), "agreement": round(agreement, 6),
                        "entropy": round(entropy, 6), "members": len(probs),
                        "calibrated": all(m.calibrated for m in ensemble.members),
                        "definition": UNCERTAINTY_DEFINITION},
        "members": members,
        "domain_warnings": domain_warnings(case_statistics(case), ensemble.domain, ensemble.tracers),
        "modalities": {"ct": True, "pet": sorted(case.pets) if ensemble.tracers else []},
        "nodes": nodes,
        "edges": edges,
        "dropped": graph.dropped,
        "attention_definition": attention_definition(ensemble.members[0].student) + "; mean over the fold students",
        "edge_definition": EDGE_DEFINITION + "; mean over the fold students",
    }
    return result, image


def _by_grade(values) -> dict[str, float]:
    return {str(g): round(float(v), 6) for g, v in zip(GRADES, values)}
