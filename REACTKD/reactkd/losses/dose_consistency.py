"""Dose consistency: a grade-free objective for the dose-aware branch on unlabelled CT.

A CT without a grade still says what the dose-aware branch should be: the same anatomy at a lower dose.
Its region graph (one node per ROI, :func:`reactkd.graph.region_nodes` of the branch's encoder level) is
computed twice, on the native CT and on its simulated low dose, and the low-dose graph is pulled towards
the native one, node by node and edge by edge:

.. math::
    \\mathcal{L}_{dose} = \\underbrace{\\frac{1}{|V|}\\sum_{(b,r)\\in V} 1 - \\cos\\big(h^{low}_{b,r},
        \\mathrm{sg}(h^{nat}_{b,r})\\big)}_{\\mathcal{L}_{node}}
    + \\lambda_{edge}\\underbrace{\\frac{1}{|E|}\\sum_{(b,i,j)\\in E,\\, i\\ne j}
        \\big(A^{low}_{b,ij} - \\mathrm{sg}(A^{nat}_{b,ij})\\big)^2}_{\\mathcal{L}_{edge}}

with :math:`A = \\cos(h_i, h_j)` the graph's cosine adjacency (:func:`reactkd.graph.cosine_adjacency`),
:math:`V` the real nodes (``valid``), :math:`E` the ordered pairs of distinct real nodes, and
:math:`\\mathrm{sg}` the stop-gradient. The node and edge terms are the region-graph distillation's own
(:func:`~reactkd.losses.region_graph.node_alignment_loss`, :func:`~reactkd.losses.region_graph.edge_alignment_loss`):
the dose-aware teacher is asked to keep, under dose noise, the very graph that stage 2 distils.

Choices and why:

- **Stop-gradient on the native view** (``target="native"``, the default): the native CT is the
  better-conditioned view, so it is the target and only the low-dose view moves towards it (noise
  invariance), as Unsupervised Data Augmentation fixes the prediction on the clean example and trains the
  one on the augmented example (Xie et al., NeurIPS 2020), and as SimSiam's stop-gradient makes one branch
  the target of the other (Chen & He, CVPR 2021). A symmetric loss would also pull the native
  representation towards what survives the noise. ``target="symmetric"`` is offered for comparison.
- **A regulariser, not a representation learner on its own**: without a predictor or negatives, a
  constant embedding gives zero loss (the collapse SimSiam's predictor and BYOL's target network avoid).
  It is used as consistency regularisation is in semi-supervised learning (Π-model, Laine & Aila, ICLR
  2017; Mean Teacher, Tarvainen & Valpola, NeurIPS 2017): beside the graded cases' focal loss, which
  anchors the representation; the unlabelled cases add the invariance.
- **Cosine, not MSE**: Swin maps are layer-normalised and node magnitudes follow the ROI's size; the
  loss aligns directions, like the node term of region-graph distillation.
- **Edge weight 1**: both terms are bounded (node in [0, 2], edge in [0, 4]) and O(1), as the
  distillation's equal RGD weights assume.

Measured on the phantom (level 1 of a 32³ grid, quarter dose): the term is 10⁻³–10⁻² in the first epoch and
~10⁻⁴ by the last, against a focal loss of ~0.3–0.9. An ROI's masked average removes most of the zero-mean
dose noise, so the nodes of the two views already agree to a cosine above 0.99; on that cohort the term,
at weight 1 or 100, changed neither the external-site CT-only AUC nor Table IV (docs/results.md).

Invariances: jointly permuting the nodes of both views (and ``valid``) leaves the loss unchanged;
padding nodes (``valid`` False) never contribute, whatever their features.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from reactkd.losses.region_graph import edge_alignment_loss, node_alignment_loss
from reactkd.utils.enums import parse_enum
from reactkd.utils.typed import require

__all__ = ["ConsistencyTarget", "DoseConsistencySpec", "dose_consistency_loss", "DoseConsistencyLoss"]

SWIN_LEVELS = 5
"""Encoder levels of the Swin dose branch (strides 2 … 32)."""


class ConsistencyTarget(str, enum.Enum):
    """Which view is the target: ``native`` (stop-gradient on the native CT's nodes) or ``symmetric``."""

    NATIVE = "native"
    SYMMETRIC = "symmetric"


def _check_weight(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ValueError(f"`{name}` must be a finite number >= 0, got {value!r}.")
    return float(value)


def _target(value: ConsistencyTarget | str) -> ConsistencyTarget:
    return parse_enum(ConsistencyTarget, value, "target")


def dose_consistency_loss(
    native_nodes: torch.Tensor,
    lowdose_nodes: torch.Tensor,
    valid: torch.Tensor,
    edge_weight: float = 1.0,
    target: ConsistencyTarget | str = ConsistencyTarget.NATIVE,
) -> torch.Tensor:
    """Node + edge disagreement of the low-dose view's region graph with the native view's (module doc).

    Args:
        native_nodes: ``(B, R, C)`` node features of the native CT (node 0 liver, 1.. tumours).
        lowdose_nodes: ``(B, R, C)`` node features of the same cases' simulated low dose, same ROI order.
        valid: ``(B, R)`` bool, True for real nodes (padding nodes are ignored).
        edge_weight: :math:`\\lambda_{edge}` >= 0. Default 1; 0 leaves the node term alone.
        target: :class:`ConsistencyTarget`. Default ``native``: no gradient reaches ``native_nodes``.

    Returns:
        Scalar in [0, 2 + 4·edge_weight]; 0 when both views' nodes agree in direction (and so in
        adjacency), and 0 still attached to the graph when no node is valid. Computed in the nodes' dtype.

    Raises:
        ValueError: mismatched shapes, ``valid`` not a ``(B, R)`` bool tensor, a negative or non-finite
            ``edge_weight``, or an unknown ``target``.

    Example:
        >>> n = torch.randn(2, 3, 8)
        >>> round(float(dose_consistency_loss(n, n, torch.ones(2, 3, dtype=torch.bool))), 6)
        0.0
    """
    edge_weight = _check_weight("edge_weight", edge_weight)
    target = _target(target)
    if native_nodes.shape != lowdose_nodes.shape:
        raise ValueError(f"`native_nodes` {tuple(native_nodes.shape)} and `lowdose_nodes` "
                         f"{tuple(lowdose_nodes.shape)} must have the same (B, R, C) shape.")
    anchor = native_nodes.detach() if target is ConsistencyTarget.NATIVE else native_nodes
    loss = node_alignment_loss(lowdose_nodes, anchor, valid)
    if edge_weight:
        loss = loss + edge_weight * edge_alignment_loss(lowdose_nodes, anchor, valid)
    return loss


class DoseConsistencyLoss(nn.Module):
    """:func:`dose_consistency_loss` with its options fixed at construction (checked there).

    Args:
        edge_weight: :math:`\\lambda_{edge}` >= 0. Default 1.
        target: :class:`ConsistencyTarget`. Default ``native``.

    Raises:
        ValueError: a negative or non-finite ``edge_weight``, an unknown ``target``.
    """

    def __init__(self, edge_weight: float = 1.0, target: ConsistencyTarget | str = ConsistencyTarget.NATIVE) -> None:
        super().__init__()
        self.edge_weight = _check_weight("edge_weight", edge_weight)
        self.target = _target(target)

    def forward(self, native_nodes: torch.Tensor, lowdose_nodes: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``(B, R, C)``, ``(B, R, C)``, ``(B, R)`` bool → scalar (see :func:`dose_consistency_loss`)."""
        return dose_consistency_loss(native_nodes, lowdose_nodes, valid, self.edge_weight, self.target)


@dataclass
class DoseConsistencySpec:
    """Stage 1's objective on unlabelled CT (``data.unlabelled_manifest``), the config's
    ``stage1.dose_consistency``; inert without an unlabelled manifest.

    Attributes:
        weight: :math:`\\lambda_{dose}`, the term's weight beside the graded cases' focal loss. Default 1, the
            weight Unsupervised Data Augmentation gives its consistency term (Xie et al. 2020) and the one
            the distillation's terms have; both losses are O(1) (focal ~1 at the start, this one in [0, 6]).
        edge_weight: :math:`\\lambda_{edge}` inside the term. Default 1 (module doc).
        target: :class:`ConsistencyTarget`. Default ``native``.
        level: the dose branch's encoder level pooled into nodes (0 … 4, stride 2 … 32); None (default):
            the level the distiller's region graph reads from the teacher (``distiller.kwargs.teacher_level``,
            else 2), so the invariance is learnt where stage 2 distils.
    """

    weight: float = 1.0
    edge_weight: float = 1.0
    target: ConsistencyTarget = ConsistencyTarget.NATIVE
    level: int | None = None

    def __post_init__(self) -> None:
        for name in ("weight", "edge_weight"):
            value = getattr(self, name)
            require(math.isfinite(value) and value >= 0, name, value, "a finite number >= 0")
        self.target = _target(self.target)
        require(self.level is None or self.level in range(SWIN_LEVELS), "level", self.level,
                f"null or an encoder level in 0..{SWIN_LEVELS - 1}")
