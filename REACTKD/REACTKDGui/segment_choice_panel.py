"""The liver and tumour segment choosers: filled from the chosen segmentation, refilled when its segments
are added, removed or renamed in the Segment Editor; the user's choice is kept while its segments exist
and names only fill what is missing (REACTKDLib.segments.carried_segment_choice).
"""

from __future__ import annotations

import qt
import slicer
from slicer.util import VTKObservationMixin

from REACTKDLib.segments import carried_segment_choice, segment_names

__all__ = ["SegmentChoicePanel"]

_SEGMENT_EVENTS = ("SegmentAdded", "SegmentRemoved", "SegmentModified")


class SegmentChoicePanel(VTKObservationMixin):
    """``to_gui()`` after a parameter change; the choosers write back to the parameter node. ``on_change()``
    runs (deferred) when the observed segmentation's segments change."""

    def __init__(self, ui, parameters, updating, on_change):
        VTKObservationMixin.__init__(self)
        self.ui, self.parameters, self.updating, self.on_change = ui, parameters, updating, on_change
        self._observed = None
        self._seen = (None, None)  # (segmentation ID, its segment IDs) when the choice was last made
        ui.liverSegmentComboBox.connect("currentIndexChanged(int)", self.from_gui)
        ui.tumorSegmentsList.connect("itemChanged(QListWidgetItem*)", self.from_gui)

    def forget(self) -> None:
        """The scene closed: node IDs start again in the next one."""
        self._seen = (None, None)

    def cleanup(self) -> None:
        self.removeObservers()
        self._observed = None

    def to_gui(self) -> None:
        p = self.parameters()
        self._observe(p.segmentation)
        segments = segment_names(p.segmentation) if p.segmentation else []
        if p.segmentation:
            liver, tumors, self._seen = carried_segment_choice(segments, p.segmentation.GetID(), p.liverSegmentId,
                                                               list(p.tumorSegmentIds), self._seen)
            if (liver, tumors) != (p.liverSegmentId, list(p.tumorSegmentIds)):
                with self.updating, slicer.util.NodeModify(p):
                    p.liverSegmentId, p.tumorSegmentIds = liver, tumors
        ids = [sid for sid, _ in segments]
        with self.updating:
            combo, tumor_list = self.ui.liverSegmentComboBox, self.ui.tumorSegmentsList
            combo.clear()
            tumor_list.clear()
            for sid, name in segments:
                combo.addItem(name, sid)
                item = qt.QListWidgetItem(name)
                item.setData(qt.Qt.UserRole, sid)
                item.setFlags(item.flags() | qt.Qt.ItemIsUserCheckable)
                item.setCheckState(qt.Qt.Checked if sid in p.tumorSegmentIds else qt.Qt.Unchecked)
                tumor_list.addItem(item)
            combo.setCurrentIndex(ids.index(p.liverSegmentId) if p.liverSegmentId in ids else -1)

    def from_gui(self, *args) -> None:
        p = self.parameters()
        if self.updating or p is None:
            return
        combo, tumor_list = self.ui.liverSegmentComboBox, self.ui.tumorSegmentsList
        tumors = [tumor_list.item(i).data(qt.Qt.UserRole) for i in range(tumor_list.count)
                  if tumor_list.item(i).checkState() == qt.Qt.Checked]
        with slicer.util.NodeModify(p):
            p.liverSegmentId = combo.currentData or ""
            p.tumorSegmentIds = tumors

    def _observe(self, segmentation) -> None:
        if segmentation is self._observed:
            return
        events = [getattr(slicer.vtkSegmentation, name) for name in _SEGMENT_EVENTS]
        if self._observed is not None:
            for event in events:
                self.removeObserver(self._observed, event, self._segments_changed)
        self._observed = segmentation
        if segmentation is not None:
            for event in events:
                self.addObserver(segmentation, event, self._segments_changed)

    def _segments_changed(self, caller=None, event=None) -> None:
        qt.QTimer.singleShot(0, self.on_change)  # deferred: the Segment Editor may be mid-change
