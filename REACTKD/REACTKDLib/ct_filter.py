"""Which volumes the CT selector offers: scalar volumes that may be a CT, not label maps, not PETs, not the
module's own outputs.

A volume is left out when it is a label map; when it is one of REACTKD's outputs (it carries
:data:`REACTKDLib.outputs.ROLE`, e.g. the attention map); when it is marked as PET by this module
(:data:`MODALITY_ATTRIBUTE` = ``PT``, set on the nodes chosen in the PET selectors) or by its DICOM series
(the subject-hierarchy attribute ``DICOM.Modality`` is not ``CT``); or, without either mark, when its
name reads like a PET (a word such as "PET", "PT", "FDG", "acetate", "SUV"). A node marked ``CT`` by
this module is always offered.

``qMRMLNodeComboBox`` can only *include* nodes by attribute, so the widget hides the rest by ID:
``combo.sortFilterProxyModel().hiddenNodeIDs = hidden_ct_node_ids(scene)`` (refreshed when nodes are
added or renamed).
"""

from __future__ import annotations

import re

from REACTKDLib.outputs import ROLE, nodes_by_class

__all__ = ["MODALITY_ATTRIBUTE", "DICOM_MODALITY_ATTRIBUTE", "PET_NAME_WORDS", "mark_modality", "node_modality",
           "is_ct_candidate", "ct_candidates", "hidden_ct_node_ids"]

MODALITY_ATTRIBUTE = "REACTKD.Modality"
"""Node attribute this module sets: ``CT`` on the chosen CT, ``PT`` on the chosen PETs (DICOM's codes)."""
DICOM_MODALITY_ATTRIBUTE = "DICOM.Modality"
"""Subject-hierarchy item attribute of a DICOM series (``vtkMRMLSubjectHierarchyConstants``)."""
PET_NAME_WORDS = ("pet", "pt", "fdg", "acetate", "suv", "choline", "psma", "fluciclovine", "fluorodeoxyglucose")
_WORDS = re.compile(r"[a-z0-9]+")


def mark_modality(node, modality: str) -> None:
    """Record ``CT`` or ``PT`` on ``node`` (the widget calls it when a node is chosen as CT or PET)."""
    if node is not None:
        node.SetAttribute(MODALITY_ATTRIBUTE, modality.upper())


def node_modality(node) -> str | None:
    """``CT``, ``PT``, … from this module's mark, else from the node's DICOM series, else ``None``."""
    mark = node.GetAttribute(MODALITY_ATTRIBUTE)
    if mark:
        return mark.upper()
    scene = node.GetScene()
    sh = scene.GetSubjectHierarchyNode() if scene is not None else None
    if sh is not None:
        item = sh.GetItemByDataNode(node)
        while item and item != sh.GetSceneItemID():
            value = sh.GetItemAttribute(item, DICOM_MODALITY_ATTRIBUTE)
            if value:
                return value.upper()
            item = sh.GetItemParent(item)
    return None


def _pet_name(name: str) -> bool:
    words = _WORDS.findall((name or "").lower())
    return any(w in PET_NAME_WORDS for w in words) or any(w.startswith("pet") and w[3:].isdigit() for w in words)


def is_ct_candidate(node) -> bool:
    """Whether the CT selector offers ``node`` (see the module docstring for the rules)."""
    if node is None or not node.IsA("vtkMRMLScalarVolumeNode") or node.IsA("vtkMRMLLabelMapVolumeNode"):
        return False
    if node.GetAttribute(ROLE):
        return False
    modality = node_modality(node)
    if modality is not None:
        return modality == "CT"
    return not _pet_name(node.GetName())


def ct_candidates(scene) -> list:
    """The scene's volumes the CT selector offers, in scene order."""
    return [n for n in nodes_by_class(scene, "vtkMRMLScalarVolumeNode") if is_ct_candidate(n)]


def hidden_ct_node_ids(scene) -> list[str]:
    """IDs of the scalar volumes (label maps included) the CT selector hides."""
    return [n.GetID() for n in nodes_by_class(scene, "vtkMRMLScalarVolumeNode") if not is_ct_candidate(n)]
