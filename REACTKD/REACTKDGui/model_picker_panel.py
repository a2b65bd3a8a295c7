"""The Model picker: the shipped demonstration model, ``$REACTKD_MODEL``, models REACTKDTrainer produced,
run folders chosen before and "Browse run folder…" (a directory dialog); under it one line saying what
the chosen model is or what is wrong with it, and the synthetic banner where its card says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import qt

from REACTKDGui.settings import RECENT_MODELS, TRAINED_MODELS, remember_path, saved_paths
from REACTKDLib import model_picker
from REACTKDLib.commands import MODULE_DIR
from REACTKDLib.worker import stop_all_workers

__all__ = ["ModelPickerPanel"]


class ModelPickerPanel:
    """``choices``: the entries shown (:class:`REACTKDLib.model_picker.ModelChoice`); ``model_status``: the
    chosen model's :class:`REACTKDLib.model_picker.ModelStatus`, ``None`` before the first look."""

    def __init__(self, ui, parameters, status_line, updating, dialog_parent):
        self.ui, self.parameters = ui, parameters
        self.status_line, self.updating, self.dialog_parent = status_line, updating, dialog_parent
        self.choices = []
        self.model_status = None
        ui.modelComboBox.connect("currentIndexChanged(int)", self.on_chosen)

    def _model_path(self) -> str:
        p = self.parameters()
        return str(p.modelPath) if p else ""

    def fill(self) -> None:
        """Refill the entries (Slicer's settings may have changed) with the model in use selected."""
        shipped = model_picker.shipped_model_dir(MODULE_DIR)
        self.choices = model_picker.model_choices(shipped, saved_paths(TRAINED_MODELS), saved_paths(RECENT_MODELS),
                                                  self._model_path(), os.environ.get("REACTKD_MODEL"))
        with self.updating:
            combo = self.ui.modelComboBox
            combo.clear()
            for choice in self.choices:
                combo.addItem(choice.label)
            combo.setCurrentIndex(model_picker.choice_index(self.choices, self._model_path()))
        self.refresh()

    def on_chosen(self, index: int) -> None:
        p = self.parameters()
        if self.updating or p is None or not 0 <= index < len(self.choices):
            return
        choice = self.choices[index]
        path = choice.path
        if choice.origin == "browse":
            start = str(p.modelPath.parent) if str(p.modelPath) != "." else ""
            path = qt.QFileDialog.getExistingDirectory(self.dialog_parent,
                                                       "Choose a run folder (written by reactkd train)", start)
            if not path:
                self.fill()  # back to the model in use
                return
        if choice.origin in ("browse", "recent"):
            remember_path(RECENT_MODELS, path)
        p.modelPath = Path(path)
        self.fill()

    def refresh(self) -> None:
        """The chosen model's verdict line and banner; another model than before stops the warm worker."""
        path = self._model_path()
        if self.model_status is None or self.model_status.path != path:
            if self.model_status is not None:
                stop_all_workers()  # another model: the warm one goes
            self.model_status = model_picker.describe_model(path)
        self.ui.modelStatusLabel.text = self.model_status.summary()
        self.status_line.banner(self.model_status.banner)
