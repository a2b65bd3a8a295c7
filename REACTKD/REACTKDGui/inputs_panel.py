"""The inputs: the CT selector offers what may be a CT (REACTKDLib.ct_filter: no label maps, no volume
chosen or read as PET, none of the module's outputs), kept up to date as nodes come and go; "Load the
phantom sample case" fills CT, both PETs and the segmentation from Sample Data.
"""

from __future__ import annotations

import qt
import slicer
from slicer.util import VTKObservationMixin

from REACTKDLib.ct_filter import hidden_ct_node_ids, mark_modality
from REACTKDLib.errors import USER_ERRORS

__all__ = ["InputsPanel"]


class InputsPanel(VTKObservationMixin):
    def __init__(self, ui, logic, parameters, status_line, on_change):
        VTKObservationMixin.__init__(self)
        self.ui, self.logic, self.parameters = ui, logic, parameters
        self.status_line, self.on_change = status_line, on_change
        scene = slicer.mrmlScene
        self.addObserver(scene, scene.NodeAddedEvent, self._nodes_changed)
        self.addObserver(scene, scene.NodeRemovedEvent, self._nodes_changed)
        ui.loadSampleButton.connect("clicked(bool)", self.load_sample)

    def cleanup(self) -> None:
        self.removeObservers()

    def refresh(self) -> None:
        """The CT selector's filter for the scene as it is now."""
        p = self.parameters()
        if p is None:
            return
        mark_modality(p.petFdgVolume, "PT")  # a volume chosen as PET is no CT candidate
        mark_modality(p.petAcetateVolume, "PT")
        self.ui.ctSelector.sortFilterProxyModel().hiddenNodeIDs = hidden_ct_node_ids(slicer.mrmlScene)

    def load_sample(self) -> None:
        try:
            nodes = self.logic.loadSampleCase()
        except USER_ERRORS as err:
            self.status_line.report(str(err))
            return
        p = self.parameters()
        with slicer.util.NodeModify(p):
            p.ctVolume, p.segmentation = nodes["ct"], nodes["segmentation"]
            p.petFdgVolume, p.petAcetateVolume = nodes["pet_fdg"], nodes["pet_acetate"]
        self.on_change()

    def _nodes_changed(self, caller=None, event=None) -> None:
        qt.QTimer.singleShot(0, self.refresh)  # deferred: the node is still being added
