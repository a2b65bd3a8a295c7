"""Per-fold prediction files: round trip, softmax construction and validation messages."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from reactkd.evaluate.predictions import (
    REQUIRED_COLUMNS,
    PredictionTable,
    concat_predictions,
    read_predictions,
    read_run_predictions,
    write_predictions,
)


def _table(n: int = 6, fold: int = 0, seed: int = 0) -> PredictionTable:
    rng = np.random.default_rng(seed)
    grades = np.array([1, 2, 3] * (n // 3) + [1] * (n % 3))
    return PredictionTable.from_logits(
        [f"case{i:02d}" for i in range(n)], [f"pat{i // 2}" for i in range(n)], fold, grades,
        rng.normal(size=(n, 3)) * 3, extra={"cohort": ["A"] * n, "method": ["react-kd"] * n})


def _rows(table: PredictionTable) -> list[dict[str, str]]:
    rows = []
    for i in range(len(table)):
        row = {"case_id": table.case_id[i], "patient_id": table.patient_id[i], "fold": str(table.fold[i]),
               "grade": str(table.grade[i])}
        row.update({f"prob_g{k + 1}": repr(float(table.probs[i, k])) for k in range(3)})
        row.update({f"logit_g{k + 1}": repr(float(table.logits[i, k])) for k in range(3)})
        rows.append(row)
    return rows


def _write_rows(path: Path, rows: list[dict[str, str]], columns=REQUIRED_COLUMNS) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def test_round_trip_is_exact_and_keeps_extra_columns(tmp_path):
    t = _table()
    path = write_predictions(t, tmp_path / "fold0" / "predictions.csv")
    back = read_predictions(path)
    np.testing.assert_array_equal(back.probs, t.probs)  # repr() keeps every bit
    np.testing.assert_array_equal(back.logits, t.logits)
    np.testing.assert_array_equal(back.grade, t.grade)
    assert back.case_id.tolist() == t.case_id.tolist()
    assert back.extra == {"cohort": ["A"] * 6, "method": ["react-kd"] * 6}
    assert back.source == str(path)
    assert [p.name for p in path.parent.iterdir()] == ["predictions.csv"]  # no temp file left behind


def test_from_logits_is_softmax_and_labels_are_indices():
    t = PredictionTable.from_logits(["a", "b"], ["p", "q"], 2, [1, 3], np.array([[0.0, 0.0, 0.0], [1000.0, 0, 0]]))
    np.testing.assert_allclose(t.probs[0], [1 / 3] * 3)
    np.testing.assert_allclose(t.probs[1], [1, 0, 0], atol=1e-300)  # max-shifted: no overflow
    assert t.fold.tolist() == [2, 2]
    assert t.labels.tolist() == [0, 2]


def test_run_reader_and_concat(tmp_path):
    for k in range(3):
        write_predictions(_table(fold=k, seed=k), tmp_path / f"fold{k}" / "predictions.csv")
    tables = read_run_predictions(tmp_path)
    assert [int(t.fold[0]) for t in tables] == [0, 1, 2]
    pooled = concat_predictions(tables)  # the same case ids in different folds are fine
    assert len(pooled) == 18 and pooled.extra["cohort"] == ["A"] * 18
    with pytest.raises(FileNotFoundError, match="no prediction files"):
        read_run_predictions(tmp_path / "missing")
    with pytest.raises(ValueError, match="duplicate case_id 'case00' in fold 0"):
        concat_predictions([tables[0], tables[0]])


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda r: r[1].update(prob_g1="0.9"), r"row 2 \(line 3, case_id 'case01'\): probabilities sum to"),
        (lambda r: r[2].update(grade="4"), r"line 4, case_id 'case02'\): `grade` must be 1, 2 or 3, got 4"),
        (lambda r: r[0].update(grade="0"), r"`grade` must be 1, 2 or 3, got 0"),
        (lambda r: r[3].update(case_id="case00"), r"row 4 .*duplicate case_id 'case00' in fold 0 \(first at row 1\)"),
        (lambda r: r[1].update(logit_g2="abc"), r"line 3: `logit_g2` must be a number, got 'abc'"),
        (lambda r: r[0].update(logit_g3="nan"), r"row 1 .*logits must be finite"),
        (lambda r: r[4].update(patient_id=" "), r"row 5 .*`patient_id` must be non-empty"),
        (lambda r: r[5].update(fold="1.5"), r"`fold` must be an integer, got 1.5"),
    ],
)
def test_bad_rows_name_file_row_and_problem(tmp_path, mutate, pattern):
    rows = _rows(_table())
    mutate(rows)
    path = _write_rows(tmp_path / "predictions.csv", rows)
    with pytest.raises(ValueError, match=pattern) as info:
        read_predictions(path)
    assert str(path) in str(info.value)


def test_missing_columns_and_empty_file(tmp_path):
    rows = _rows(_table())
    cols = [c for c in REQUIRED_COLUMNS if c not in ("grade", "logit_g3")]
    path = _write_rows(tmp_path / "p.csv", rows, cols)
    with pytest.raises(ValueError, match=r"p.csv: missing columns \['grade', 'logit_g3'\]"):
        read_predictions(path)
    empty = _write_rows(tmp_path / "e.csv", [])
    with pytest.raises(ValueError, match="e.csv: no prediction rows"):
        read_predictions(empty)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_predictions(tmp_path / "nope.csv")


def test_probability_tolerance_is_1e_4():
    probs = np.array([[0.5, 0.25, 0.25 + 9e-5]])
    PredictionTable(["a"], ["p"], [0], [2], probs, np.zeros((1, 3)))  # within tolerance
    with pytest.raises(ValueError, match=r"<memory>: row 1 .*sum to 1.00011, expected 1 within 0.0001"):
        PredictionTable(["a"], ["p"], [0], [2], probs + [[0, 0, 2e-5]], np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"`probs` must have shape \(1, 3\), got \(1, 2\)"):
        PredictionTable(["a"], ["p"], [0], [2], [[0.5, 0.5]], np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"`logits` must have shape \(N, 3\), got \(2,\)"):
        PredictionTable.from_logits(["a"], ["p"], 0, [1], np.zeros(2))


def test_text_input():
    t = PredictionTable(["a", "b", "c"], ["p", "p", "q"], ["1", "1.0", 1], ["3", 2.0, 1],
                        np.full((3, 3), 1 / 3), np.zeros((3, 3)), extra={"cohort": ["x", "y", "z"]})
    assert t.fold.dtype == np.int64 and t.fold.tolist() == [1, 1, 1] and t.grade.tolist() == [3, 2, 1]
    assert t.extra == {"cohort": ["x", "y", "z"]} and len(t) == 3
    with pytest.raises(ValueError, match=r"extra column 'grade' must be a new name"):
        PredictionTable(["a"], ["p"], [0], [1], [[1.0, 0, 0]], np.zeros((1, 3)), extra={"grade": ["1"]})


def test_short_row_and_bom(tmp_path):
    t = _table(3)
    path = write_predictions(t, tmp_path / "p.csv")
    text = path.read_text(encoding="utf-8")
    (tmp_path / "bom.csv").write_text("\ufeff" + text, encoding="utf-8")
    assert read_predictions(tmp_path / "bom.csv").case_id.tolist() == t.case_id.tolist()
    lines = text.splitlines()
    lines[2] = ",".join(lines[2].split(",")[:6])  # row 2 cut after prob_g2
    (tmp_path / "short.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"short.csv: line 3: `prob_g3` must be a number, got ''"):
        read_predictions(tmp_path / "short.csv")
