"""Builds a module's widgets from its own ``.ui`` file out of the stand-ins (:func:`load_ui`), so a name the
module uses that the ``.ui`` lacks fails; :func:`install_widgets` puts the stand-in classes into the
``qt``/``ctk`` stand-in modules and onto ``slicer``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ctk_mrml_widgets import ctkCollapsibleButton, ctkPathLineEdit, ctkSliderWidget, qMRMLNodeComboBox, qMRMLWidget
from qt_services import QAbstractItemView, QFileDialog, QSettings, Qt, QTimer
from qt_widgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

__all__ = ["install_widgets", "load_ui"]


QT_CLASSES = {c.__name__: c for c in (QWidget, QLabel, QPushButton, QCheckBox, QComboBox, QListWidget, QListWidgetItem,
                                      QTableWidget, QTableWidgetItem, QProgressBar, QPlainTextEdit, QTimer, QSettings,
                                      QFileDialog, QAbstractItemView)}
QT_CLASSES["Qt"] = Qt
CTK_CLASSES = {c.__name__: c for c in (ctkCollapsibleButton, ctkPathLineEdit, ctkSliderWidget)}
SLICER_CLASSES = {c.__name__: c for c in (qMRMLNodeComboBox, qMRMLWidget)}


def install_widgets(qt_module, ctk_module, slicer_module) -> None:
    """Put the working stand-ins into the ``qt``/``ctk`` stand-in modules and onto ``slicer``."""
    for name, cls in QT_CLASSES.items():
        setattr(qt_module, name, cls)
    for name, cls in CTK_CLASSES.items():
        setattr(ctk_module, name, cls)
    for name, cls in SLICER_CLASSES.items():
        setattr(slicer_module, name, cls)


def _value(prop):
    child = list(prop)[0]
    tag, text = child.tag, (child.text or "")
    if tag == "bool":
        return text == "true"
    if tag == "double":
        return float(text)
    if tag == "number":
        return int(text)
    if tag == "stringlist":
        return [s.text or "" for s in child.findall("string")]
    return text


def load_ui(path, qt_module, ctk_module, slicer_module):
    """The widget tree of a ``.ui`` file made of stand-ins (``class`` looked up on slicer/ctk/qt);
    properties set as attributes (``SlicerParameterName`` and other dynamic ones via ``setProperty``)."""
    root = ET.parse(Path(path)).getroot().find("widget")

    def make(element):
        cls_name = element.get("class")
        module = (slicer_module if cls_name.startswith("qMRML")
                  else ctk_module if cls_name.startswith("ctk") else qt_module)
        widget = getattr(module, cls_name)()
        widget.name = element.get("name")
        for prop in element.findall("property"):
            name, value = prop.get("name"), _value(prop)
            if prop.get("stdset") == "0":
                widget.setProperty(name, value)
            else:
                try:
                    setattr(widget, name, value)
                except AttributeError:  # a read-only stand-in property (e.g. a count)
                    pass
        for child in _child_widgets(element):
            widget.add_child(make(child))
        return widget

    return make(root)


def _child_widgets(element):
    """Widgets directly under ``element``, looking through layouts and their items."""
    out = []
    for child in element:
        if child.tag == "widget":
            out.append(child)
        elif child.tag in ("layout", "item"):
            out += _child_widgets(child)
    return out
