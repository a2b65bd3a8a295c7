"""A model card beside a model folder: where its training data came from, how well it did, what it is for,
and the files it consists of, so that the card and the files can be checked against each other.

``MODEL_CARD_JSON`` (``model_card.json``) is the machine-readable card, ``MODEL_CARD_TEXT``
(``MODEL_CARD.md``) the same for a person. A model is *synthetic* when its training data were generated
(the project's phantom), not acquired from patients: every result it gives then carries a banner
(:func:`synthetic_banner`), because a grade from it says how the workflow looks, not how a patient is.

Model cards follow Mitchell et al., "Model Cards for Model Reporting", FAT* 2019 (intended use, training
data, evaluation figures).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["MODEL_CARD_JSON", "MODEL_CARD_TEXT", "CARD_FORMAT", "ModelCard", "file_digest", "read_json", "read_card",
           "write_card", "card_problems", "card_text", "synthetic_banner", "SYNTHETIC_BANNER"]

MODEL_CARD_JSON = "model_card.json"
MODEL_CARD_TEXT = "MODEL_CARD.md"
CARD_FORMAT = "reactkd-model-card-1"
SYNTHETIC_BANNER = ("SYNTHETIC DEMONSTRATION MODEL: trained on generated phantom patients, not on patients. "
                    "It shows the workflow; it does not grade a patient's tumour.")


@dataclass
class ModelCard:
    """The card's fields (``model_card.json`` holds them as one JSON object).

    Attributes:
        name: short identifier (``demo-synthetic``).
        title: one line for pickers and banners.
        synthetic: the training data were generated, not acquired from patients.
        intended_use: what the model is for, and what not.
        training_data: the data's origin (generator and version, patients, seed, acquisition grid), the
            config name and the SHA-256 of the resolved config the run trained with, the commit.
        figures: cross-validated figures read from the run's tables (``{condition: {metric: {mean, std, n}}}``).
        folds: the fold indices of the students.
        files: ``{relative path: {"sha256", "size"}}`` for every file of the model.
    """

    name: str
    title: str
    synthetic: bool
    intended_use: str
    training_data: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    folds: list = field(default_factory=list)
    files: dict = field(default_factory=dict)
    format: str = CARD_FORMAT

    @classmethod
    def from_dict(cls, data: dict, source: str = "model card") -> "ModelCard":
        """Raises ValueError naming ``source`` and the missing or mistyped field."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: not a JSON object.")
        if data.get("format") != CARD_FORMAT:
            raise ValueError(f"{source}: format {data.get('format')!r}, expected {CARD_FORMAT!r}.")
        missing = [k for k in ("name", "title", "synthetic", "intended_use", "folds", "files") if k not in data]
        if missing:
            raise ValueError(f"{source}: lacks {missing}.")
        if not isinstance(data["synthetic"], bool):
            raise ValueError(f"{source}: `synthetic` must be true or false, got {data['synthetic']!r}.")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)


def file_digest(path) -> dict:
    """``{"sha256": hex digest, "size": bytes}`` of one file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"sha256": digest.hexdigest(), "size": Path(path).stat().st_size}


def read_card(folder) -> ModelCard | None:
    """The card of a model folder (or of the folder holding a checkpoint's run), ``None`` without one.

    Raises:
        ValueError: a card that is not valid JSON or lacks a field (the message names the file).
    """
    path = Path(folder) / MODEL_CARD_JSON
    return ModelCard.from_dict(read_json(path), str(path)) if path.is_file() else None


def read_json(path):
    """The JSON value in the file ``path``.

    Raises:
        ValueError: the file is not JSON (the message names it).
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{path} is not JSON ({err}).") from None


def write_card(folder, card: ModelCard) -> tuple[Path, Path]:
    """Write ``model_card.json`` and ``MODEL_CARD.md`` into ``folder``; returns both paths."""
    folder = Path(folder)
    json_path, text_path = folder / MODEL_CARD_JSON, folder / MODEL_CARD_TEXT
    json_path.write_text(json.dumps(card.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    text_path.write_text(card_text(card), encoding="utf-8")
    return json_path, text_path


def card_problems(folder, card: ModelCard) -> list[str]:
    """Where the files disagree with the card (empty: they agree): a listed file missing, of another size
    or SHA-256, and a fold student present but not listed or listed but absent."""
    folder = Path(folder)
    problems = []
    for rel, expected in sorted(card.files.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        got = file_digest(path)
        if got["size"] != expected.get("size"):
            problems.append(f"{rel} has {got['size']} bytes, the card says {expected.get('size')}")
        elif got["sha256"] != expected.get("sha256"):
            problems.append(f"{rel} differs from the card (SHA-256)")
    present = sorted(int(p.parent.parent.name[4:]) for p in folder.glob("fold*/student/best.pt")
                     if p.parent.parent.name[4:].isdigit())
    if present != sorted(int(k) for k in card.folds):
        problems.append(f"the folder holds fold students {present}, the card lists {sorted(card.folds)}")
    return problems


def _figure(values: dict | None, metric: str) -> str:
    if not values or metric not in values:
        return "not measured"
    v = values[metric]
    return f"{v['mean']:.3f} ± {v['std']:.3f} (n = {v['n']} folds)"


def card_text(card: ModelCard) -> str:
    """The card for a person (Markdown)."""
    data = card.training_data
    lines = [f"# {card.title}", ""]
    if card.synthetic:
        lines += [f"**{SYNTHETIC_BANNER}**", ""]
    lines += ["## Intended use", "", card.intended_use, "", "## Training data", ""]
    for key in ("description", "generator", "generator_version", "patients", "cases", "seed", "acquisition_grid",
                "config_name", "config_sha256", "commit", "reactkd_version"):
        if key in data:
            lines.append(f"- {key.replace('_', ' ')}: {data[key]}")
    lines += ["", "## Cross-validated figures", "",
              "Patient-level cross-validation on the training cohort; each fold's student graded only patients "
              "it never saw.", "", "| condition | AUC | accuracy |", "|---|---|---|"]
    for condition, values in card.figures.get("conditions", {}).items():
        lines.append(f"| {condition} | {_figure(values, 'auc')} | {_figure(values, 'accuracy')} |")
    if card.figures.get("source"):
        lines += ["", "Read from: " + ", ".join(card.figures["source"]) + "."]
    lines += ["", "## Files", "", f"Fold students: {', '.join(str(k) for k in card.folds)}.", "",
              "| file | bytes | SHA-256 |", "|---|---:|---|"]
    for rel, info in sorted(card.files.items()):
        lines.append(f"| {rel} | {info['size']} | `{info['sha256']}` |")
    return "\n".join(lines) + "\n"


def synthetic_banner(card: ModelCard | None) -> str:
    """The banner for results of this model (``""`` for a model that is not synthetic or has no card)."""
    return SYNTHETIC_BANNER if card is not None and card.synthetic else ""
