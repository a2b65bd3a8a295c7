"""Tables in the paper's layout: "0.812 ± 0.034" cells, markdown and CSV."""

from __future__ import annotations

import csv
import math

import pytest

from reactkd.evaluate.metrics import METRIC_NAMES, MeanStd, aggregate_folds
from reactkd.evaluate.tables import (
    METRIC_LABELS,
    Table,
    fold_table,
    format_mean_std,
    summary_table,
)

FOLDS = [{"accuracy": 0.8, "precision": 0.7, "recall": 0.6, "f1": 0.65, "auc": 0.9},
         {"accuracy": 0.9, "precision": 0.8, "recall": 0.7, "f1": 0.75, "auc": 0.8},
         {"accuracy": 0.7, "precision": 0.6, "recall": 0.5, "f1": 0.55, "auc": 0.85}]


def test_format_mean_std():
    assert format_mean_std(0.8123, 0.0341) == "0.812 ± 0.034"
    assert format_mean_std(0.8125, 0.0, digits=2) == "0.81 ± 0.00"
    assert format_mean_std(0.8123, math.nan) == "0.812"
    assert format_mean_std(math.nan, 0.1) == "n/a"
    with pytest.raises(ValueError, match=r"`digits` must be an integer in \[0, 12\], got -1"):
        format_mean_std(0.5, 0.1, digits=-1)


def test_summary_table_markdown_and_csv(tmp_path):
    s = aggregate_folds(FOLDS)
    table = summary_table({"REACT-KD": s, "KD | T=4": {k: MeanStd(0.5, math.nan, 1) for k in s}})
    assert table.to_markdown() == (
        "| Method | Accuracy | Precision | Recall | F1 | AUC |\n"
        "|:---|---:|---:|---:|---:|---:|\n"
        "| REACT-KD | 0.800 ± 0.100 | 0.700 ± 0.100 | 0.600 ± 0.100 | 0.650 ± 0.100 | 0.850 ± 0.050 |\n"
        "| KD \\| T=4 | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 |\n")
    path = table.to_csv(tmp_path / "sub" / "summary.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(table.header) and rows[1][5] == "0.850 ± 0.050" and rows[2][0] == "KD | T=4"
    assert (tmp_path / "sub" / "t.md") == table.write_markdown(tmp_path / "sub" / "t.md")


def test_numeric_summary_keeps_full_precision():
    s = aggregate_folds(FOLDS)
    t = summary_table({"m": s}, metrics=("auc",), numeric=True)
    assert t.header == ("Method", "auc_mean", "auc_std", "auc_n")
    assert float(t.rows[0][1]) == s["auc"].mean and float(t.rows[0][2]) == s["auc"].std and t.rows[0][3] == "3"


def test_fold_table():
    t = fold_table(FOLDS, aggregate_folds(FOLDS), metrics=("accuracy", "auc"))
    assert t.header == ("Fold", "Accuracy", "AUC")
    assert t.rows == (("fold 0", "0.800", "0.900"), ("fold 1", "0.900", "0.800"), ("fold 2", "0.700", "0.850"),
                      ("mean ± std", "0.800 ± 0.100", "0.850 ± 0.050"))


def test_errors():
    with pytest.raises(ValueError, match=r"`metrics` must be a non-empty subset of .*got \['kappa'\]"):
        summary_table({"m": aggregate_folds(FOLDS)}, metrics=("kappa",))
    with pytest.raises(ValueError, match=r"method 'm' lacks metrics \['balanced_accuracy'\]"):
        summary_table({"m": aggregate_folds(FOLDS)}, metrics=("balanced_accuracy",))
    with pytest.raises(ValueError, match="`fold_names` has 1 names for 3 folds"):
        fold_table(FOLDS, fold_names=["a"])
    with pytest.raises(ValueError, match=r"`rows` \[0\] do not have 2 cells"):
        Table(("a", "b"), (("x",),))
    assert set(METRIC_NAMES) <= set(METRIC_LABELS)  # every metric has a column title


def test_paired_table_against_the_first_row():
    from reactkd.evaluate.paired import paired_table

    ref = {(0, k): 0.7 for k in range(6)}
    better = {(0, k): 0.7 + 0.05 * (k + 1) for k in range(6)}
    mixed = {(0, k): 0.7 + (0.01 if k % 2 else -0.01) for k in range(6)}
    partial = {(0, 0): 0.9, (1, 0): 0.1}  # only one pair is shared with the reference
    table = paired_table({"REACT-KD": ref, "A": better, "B": mixed, "C": partial})
    rows = {r[0]: r[1:] for r in table.rows}
    assert table.header[1] == "Δ AUC vs REACT-KD" and list(rows) == ["A", "B", "C"]
    assert rows["A"][0] == "0.175 ± 0.094" and rows["A"][1] == "6/6" and float(rows["A"][2]) < 0.05
    assert rows["B"][1] == "3/6" and float(rows["B"][2]) > 0.5
    assert rows["C"] == ("0.200", "1/1", "n/a")
    with pytest.raises(ValueError, match="not one of the rows"):
        paired_table({"A": ref}, reference="Z")
