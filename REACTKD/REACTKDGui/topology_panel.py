"""The topology map in the panel: the Regions table of the last grading (selecting a region centres the
slice views on its centroid, outlines it and shows its kind, volume and attention), the attention
opacity and graph edges as the parameter node says, and "Show result tables".
"""

from __future__ import annotations

import qt
import slicer

from REACTKDLib.outputs import set_overlay_opacity
from REACTKDLib.panel import REGION_COLUMNS, region_rows
from REACTKDLib.topology import focus_region, set_edges_visible

__all__ = ["TopologyPanel"]


class TopologyPanel:
    """``result``: ``(CT node, prediction)`` of the last grading shown, or None. The logic shows the tables."""

    def __init__(self, ui, logic, parameters, updating):
        self.ui, self.logic, self.parameters, self.updating = ui, logic, parameters, updating
        self.result = None
        table = ui.regionsTable
        table.setColumnCount(len(REGION_COLUMNS))
        table.setHorizontalHeaderLabels(list(REGION_COLUMNS))
        table.setSelectionBehavior(qt.QAbstractItemView.SelectRows)
        table.setSelectionMode(qt.QAbstractItemView.SingleSelection)
        table.setEditTriggers(qt.QAbstractItemView.NoEditTriggers)
        table.connect("itemSelectionChanged()", self.on_region_selected)
        ui.showTablesButton.connect("clicked(bool)", self.show_tables)

    def refresh(self) -> None:
        """Attention opacity and graph edges of the chosen CT's results from the parameter node."""
        p = self.parameters()
        set_overlay_opacity(slicer.mrmlScene, p.ctVolume, p.overlayOpacity)
        if p.ctVolume is not None:
            self.show_edges(p.ctVolume)

    def show_edges(self, ct_node) -> None:
        """The graph's edge lines of ``ct_node``'s results shown or hidden as the parameter node says."""
        set_edges_visible(slicer.mrmlScene, ct_node, self.parameters().showEdges)

    def show(self, ct_node, prediction) -> None:
        """The regions of ``prediction`` (graded on ``ct_node``) in the table; ``None``: an empty table."""
        self.result = (ct_node, prediction) if prediction else None
        rows = region_rows(prediction) if prediction else []
        table = self.ui.regionsTable
        with self.updating:
            table.clearContents()
            table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    table.setItem(r, c, qt.QTableWidgetItem(text))
        self.ui.nodeDetailsLabel.text = "Select a region to jump to it." if rows else ""

    def on_region_selected(self) -> None:
        if self.updating or self.result is None:
            return
        row = self.ui.regionsTable.currentRow()
        ct, prediction = self.result
        if 0 <= row < len(prediction["nodes"]):
            self.ui.nodeDetailsLabel.text = focus_region(slicer.mrmlScene, ct, prediction, row)

    def show_tables(self) -> None:
        p = self.parameters()
        table = self.logic.gradeTable(p.ctVolume) if p is not None else None
        if table is not None:
            self.logic.showTables(table)
