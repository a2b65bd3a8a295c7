"""Which model made a result, carried by the result itself: node attributes on every output, and a
``Model`` column in the grade tables whose every row holds the synthetic banner when the model learnt
from generated data, so a table copied out of Slicer still says so.
"""

from __future__ import annotations

import vtk

__all__ = ["MODEL_ATTRIBUTE", "SYNTHETIC_ATTRIBUTE", "BANNER_ATTRIBUTE", "MODEL_COLUMN", "mark_results",
           "add_model_column", "table_banner"]

MODEL_ATTRIBUTE = "REACTKD.Model"
SYNTHETIC_ATTRIBUTE = "REACTKD.Synthetic"
BANNER_ATTRIBUTE = "REACTKD.Banner"
MODEL_COLUMN = "Model"


def mark_results(nodes, model_path: str, banner: str = "") -> None:
    """Record the model (and its banner, when synthetic) on each output node."""
    for node in nodes:
        if node is None:
            continue
        node.SetAttribute(MODEL_ATTRIBUTE, str(model_path))
        node.SetAttribute(SYNTHETIC_ATTRIBUTE, "true" if banner else "false")
        node.SetAttribute(BANNER_ATTRIBUTE, banner)


def add_model_column(table_node, model_label: str, banner: str = "") -> None:
    """Add (or refill) the ``Model`` column: on every row the model's name, and the banner when synthetic."""
    table = table_node.GetTable()
    text = f"{banner} ({model_label})" if banner else model_label
    column = table.GetColumnByName(MODEL_COLUMN)
    if column is None:
        column = vtk.vtkStringArray()
        column.SetName(MODEL_COLUMN)
        column.SetNumberOfValues(table.GetNumberOfRows())
        table.AddColumn(column)
    for row in range(table.GetNumberOfRows()):
        column.SetValue(row, text)
    column.Modified()
    table.Modified()
    table_node.Modified()


def table_banner(table_node) -> str:
    """The banner a result table carries (``""`` when its model is not synthetic)."""
    return table_node.GetAttribute(BANNER_ATTRIBUTE) or ""
