"""Per-fold prediction files (``RUN/fold<k>/predictions.csv``): the contract between training and evaluation.

One CSV per fold, one row per case, with the columns

- ``case_id``, ``patient_id``: non-empty strings; ``case_id`` unique within a fold;
- ``fold``: integer fold index;
- ``grade``: true Edmondson–Steiner grade, 1, 2 or 3;
- ``prob_g1``, ``prob_g2``, ``prob_g3``: softmax probabilities in [0, 1], each row summing to 1 within 1e-4;
- ``logit_g1``, ``logit_g2``, ``logit_g3``: finite logits;
- optional ``cohort``, ``method`` and any further column: kept as text.

Validation errors name the file (or ``"<memory>"``), the row (1-based, plus the file line) and the problem.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reactkd import GRADES

__all__ = [
    "write_fold_predictions",
    "GRADES",
    "PROB_COLUMNS",
    "LOGIT_COLUMNS",
    "REQUIRED_COLUMNS",
    "PROB_SUM_TOL",
    "PredictionTable",
    "read_predictions",
    "write_predictions",
    "read_run_predictions",
    "concat_predictions",
]

PROB_COLUMNS = ("prob_g1", "prob_g2", "prob_g3")
LOGIT_COLUMNS = ("logit_g1", "logit_g2", "logit_g3")
REQUIRED_COLUMNS = ("case_id", "patient_id", "fold", "grade", *PROB_COLUMNS, *LOGIT_COLUMNS)
PROB_SUM_TOL = 1e-4
"""Largest allowed ``|sum(prob_g*) - 1|`` for one row."""


@dataclass(frozen=True)
class PredictionTable:
    """Predictions of one fold (or several folds concatenated), validated on construction.

    Attributes:
        case_id: shape ``(N,)`` of ``str``.
        patient_id: shape ``(N,)`` of ``str``.
        fold: shape ``(N,)`` int64.
        grade: shape ``(N,)`` int64, true grades in {1, 2, 3}.
        probs: shape ``(N, 3)`` float64, column ``k`` = probability of grade ``k + 1``.
        logits: shape ``(N, 3)`` float64.
        extra: optional text columns (``cohort``, ``method``, ...), each of length ``N``.
        source: where the table came from (a path or ``"<memory>"``); used in error messages.

    Raises:
        ValueError: on any violation of the contract; the message names ``source``, the row and the problem.
    """

    case_id: np.ndarray
    patient_id: np.ndarray
    fold: np.ndarray
    grade: np.ndarray
    probs: np.ndarray
    logits: np.ndarray
    extra: Mapping[str, Sequence[str]] = field(default_factory=dict)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        put("case_id", np.asarray(self.case_id, dtype=str).reshape(-1))
        put("patient_id", np.asarray(self.patient_id, dtype=str).reshape(-1))
        put("fold", np.asarray(self.fold).reshape(-1))
        put("grade", np.asarray(self.grade).reshape(-1))
        put("probs", np.asarray(self.probs, dtype=np.float64))
        put("logits", np.asarray(self.logits, dtype=np.float64))
        put("extra", {str(k): [str(v) for v in vals] for k, vals in dict(self.extra).items()})
        _validate(self)
        for name in ("fold", "grade"):  # validated: each value is integral (possibly as text or float)
            put(name, np.array([int(float(v)) for v in getattr(self, name)], dtype=np.int64))

    def __len__(self) -> int:
        return int(self.grade.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """Class indices ``grade - 1``, shape ``(N,)`` int64 (for code that works in tensor space)."""
        return self.grade - 1

    @classmethod
    def from_logits(
        cls,
        case_id: Sequence[str],
        patient_id: Sequence[str],
        fold: int | Sequence[int],
        grade: Sequence[int],
        logits: np.ndarray,
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> PredictionTable:
        """Build a table from model logits ``(N, 3)``; probabilities are their softmax (max-shifted, float64)."""
        z = np.asarray(logits, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != len(GRADES):
            raise ValueError(f"`logits` must have shape (N, {len(GRADES)}), got {z.shape}.")
        e = np.exp(z - z.max(axis=1, keepdims=True))
        folds = np.full(z.shape[0], fold) if np.ndim(fold) == 0 else fold
        return cls(case_id, patient_id, folds, grade, e / e.sum(axis=1, keepdims=True), z, extra or {})



def _where(table: PredictionTable, i: int) -> str:
    case = str(table.case_id[i]) if i < table.case_id.shape[0] else "?"
    return f"{table.source}: row {i + 1} (line {i + 2}, case_id {case!r})"


def _show(value: object) -> str:
    try:
        return f"{float(value):g}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return repr(value)


def _validate(t: PredictionTable) -> None:
    _validate_shapes(t)
    for i in range(t.case_id.shape[0]):
        _validate_row(t, i)
    _validate_unique(t)


def _validate_shapes(t: PredictionTable) -> None:
    """Every column has ``case_id``'s length; extra columns have new names."""
    n = t.case_id.shape[0]
    for name in ("patient_id", "fold", "grade"):
        if getattr(t, name).shape != (n,):
            got = getattr(t, name).shape
            raise ValueError(f"{t.source}: `{name}` must have shape ({n},) like `case_id`, got {got}.")
    for name in ("probs", "logits"):
        if getattr(t, name).shape != (n, len(GRADES)):
            got = getattr(t, name).shape
            raise ValueError(f"{t.source}: `{name}` must have shape ({n}, {len(GRADES)}), got {got}.")
    for key, values in t.extra.items():
        if key in REQUIRED_COLUMNS or len(values) != n:
            raise ValueError(f"{t.source}: extra column {key!r} must be a new name with {n} values, "
                             f"got {len(values)}.")


def _validate_row(t: PredictionTable, i: int) -> None:
    """Row ``i``: non-empty ids, an integral fold, a grade in 1..3, finite logits, probabilities summing to 1."""
    if not t.case_id[i].strip() or not t.patient_id[i].strip():
        raise ValueError(f"{_where(t, i)}: `case_id` and `patient_id` must be non-empty.")
    for name, allowed in (("fold", "an integer"), ("grade", "1, 2 or 3")):
        value = getattr(t, name)[i]
        try:
            ok = float(value) == int(float(value)) and (name == "fold" or int(float(value)) in GRADES)
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise ValueError(f"{_where(t, i)}: `{name}` must be {allowed}, got {_show(value)}.")
    p, z = t.probs[i], t.logits[i]
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{_where(t, i)}: logits must be finite, got {z.tolist()}.")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError(f"{_where(t, i)}: probabilities must lie in [0, 1], got {p.tolist()}.")
    if abs(p.sum() - 1.0) > PROB_SUM_TOL:
        raise ValueError(f"{_where(t, i)}: probabilities sum to {p.sum():.6g}, "
                         f"expected 1 within {PROB_SUM_TOL:g}.")


def _validate_unique(t: PredictionTable) -> None:
    """No (fold, case_id) pair repeats."""
    pairs = [(int(float(f)), str(c)) for f, c in zip(t.fold.tolist(), t.case_id.tolist())]
    seen: dict[tuple, int] = {}
    for i, key in enumerate(pairs):
        if key in seen:
            raise ValueError(f"{_where(t, i)}: duplicate case_id {key[1]!r} in fold {key[0]} "
                             f"(first at row {seen[key] + 1}).")
        seen[key] = i


def _float(path: str, line: int, column: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}: line {line}: `{column}` must be a number, got {text!r}.") from None


def read_predictions(path: str | os.PathLike) -> PredictionTable:
    """Read and validate one ``predictions.csv``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: missing columns, non-numeric cells or any contract violation (file, row and problem named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prediction file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: tolerate a BOM from spreadsheet tools
        reader = csv.DictReader(fh, restval="")  # short rows: empty cells, reported as such
        header = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}; required {list(REQUIRED_COLUMNS)}, found {header}.")
        reader.fieldnames = header
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path}: no prediction rows.")
    src = str(path)
    num = lambda r, i, cols: [_float(src, i + 2, c, r[c]) for c in cols]  # noqa: E731
    extra_cols = [c for c in header if c not in REQUIRED_COLUMNS]
    return PredictionTable(
        case_id=[r["case_id"].strip() for r in rows],
        patient_id=[r["patient_id"].strip() for r in rows],
        fold=[_float(src, i + 2, "fold", r["fold"]) for i, r in enumerate(rows)],
        grade=[_float(src, i + 2, "grade", r["grade"]) for i, r in enumerate(rows)],
        probs=np.array([num(r, i, PROB_COLUMNS) for i, r in enumerate(rows)]),
        logits=np.array([num(r, i, LOGIT_COLUMNS) for i, r in enumerate(rows)]),
        extra={c: [r[c] or "" for r in rows] for c in extra_cols},
        source=src,
    )


def write_predictions(table: PredictionTable, path: str | os.PathLike) -> Path:
    """Write ``table`` as CSV atomically (temp file + rename); floats keep full precision (``repr``).

    Returns:
        The written path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    extra_cols = list(table.extra)
    try:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([*REQUIRED_COLUMNS, *extra_cols])
            for i in range(len(table)):
                writer.writerow([table.case_id[i], table.patient_id[i], int(table.fold[i]), int(table.grade[i]),
                                 *map(repr, map(float, table.probs[i])), *map(repr, map(float, table.logits[i])),
                                 *(table.extra[c][i] for c in extra_cols)])
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_run_predictions(run_dir: str | os.PathLike, pattern: str = "fold*/predictions.csv") -> list[PredictionTable]:
    """Read every fold's predictions under ``run_dir`` (sorted by path).

    Raises:
        FileNotFoundError: ``run_dir`` is missing or holds no file matching ``pattern``.
    """
    run_dir = Path(run_dir)
    paths = sorted(run_dir.glob(pattern)) if run_dir.is_dir() else []
    if not paths:
        raise FileNotFoundError(f"no prediction files matching {pattern!r} under {run_dir}")
    return [read_predictions(p) for p in paths]


def concat_predictions(tables: Sequence[PredictionTable]) -> PredictionTable:
    """Concatenate tables (e.g. all folds, for pooled curves); extra columns missing in a table become ``""``.

    Raises:
        ValueError: ``tables`` is empty, or a (fold, case_id) pair repeats.
    """
    if not tables:
        raise ValueError("`tables` must hold at least one PredictionTable, got 0.")
    keys = list(dict.fromkeys(k for t in tables for k in t.extra))
    extra = {k: [v for t in tables for v in t.extra.get(k, [""] * len(t))] for k in keys}
    cat = lambda name: np.concatenate([getattr(t, name) for t in tables])  # noqa: E731
    source = tables[0].source if len(tables) == 1 else f"concat of {len(tables)} tables"
    return PredictionTable(cat("case_id"), cat("patient_id"), cat("fold"), cat("grade"), cat("probs"),
                           cat("logits"), extra, source)


def write_fold_predictions(pred: dict, fold: int, path: str | os.PathLike) -> Path:
    """Write :func:`~reactkd.train.predict.predict_loader` output (class indices, logits) as a fold's CSV."""
    n = len(pred["case_id"])
    table = PredictionTable.from_logits(pred["case_id"], pred["patient_id"], np.full(n, fold),
                                        pred["label"] + 1, pred["logits"])
    return write_predictions(table, path)
