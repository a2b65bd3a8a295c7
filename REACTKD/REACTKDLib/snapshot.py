"""An offscreen picture of a result from the scene's nodes (no Slicer view needed): one axial CT slice,
the attention map over it in the attention volume's colour table, and the graph points near the slice.
Used for the README screenshot and to check, without a display, that the nodes line up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from REACTKDLib.geometry import array_from_volume, ijk_to_ras_matrix
from REACTKDLib.topology import ATTENTION_RANGE

__all__ = ["render_overlay_png"]


def _lut(color_node, n=256) -> np.ndarray:
    rgba = [0.0] * 4
    out = []
    for i in range(color_node.GetNumberOfColors()):
        color_node.GetColor(i, rgba)
        out.append(list(rgba[:3]))
    return np.asarray(out)


def render_overlay_png(ct_node, attention_node, points_node, path, grade_text: str = "", slice_k: int | None = None,
                       window=(-160.0, 240.0), opacity: float = 0.6) -> Path:
    """Write a PNG; returns its path. The slice defaults to the one through the first tumour's point
    (the largest tumour), else the liver's.

    Assumes an axis-aligned CT (a rotated one is drawn in voxel axes, still correct for the overlay,
    because attention is on the CT's own grid).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    ct = array_from_volume(ct_node).astype(np.float32)
    att = array_from_volume(attention_node).astype(np.float32)
    if att.shape != ct.shape:
        raise ValueError(f"attention {att.shape} is not on the CT grid {ct.shape}.")
    m = ijk_to_ras_matrix(ct_node)
    ras_to_ijk = np.linalg.inv(m)
    pts, labels = [], []
    for i in range(points_node.GetNumberOfControlPoints()):
        p = [0.0, 0.0, 0.0]
        points_node.GetNthControlPointPosition(i, p)
        pts.append((ras_to_ijk @ np.array([*p, 1.0]))[:3])
        labels.append(points_node.GetNthControlPointLabel(i))
    pts = np.asarray(pts).reshape(-1, 3)
    if slice_k is None:
        slice_k = int(round(pts[min(1, len(pts) - 1), 2])) if len(pts) else ct.shape[0] // 2
    slice_k = int(np.clip(slice_k, 0, ct.shape[0] - 1))
    ct2 = np.clip((ct[slice_k] - window[0]) / (window[1] - window[0]), 0, 1)
    a2 = att[slice_k]
    color = attention_node.GetDisplayNode().GetColorNode() if attention_node.GetDisplayNode() else None
    cmap = ListedColormap(_lut(color)) if color is not None else "inferno"
    # Radiological view: patient's right on the left, anterior up. Array rows are J, columns I.
    flip_x = m[0, 0] > 0  # +I goes to +R: flip so R is on the left
    flip_y = m[1, 1] > 0  # +J goes to +A: flip so A is on top
    fig = Figure(figsize=(6.4, 5.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(ct2, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    shown = np.ma.masked_where(a2 <= 0, a2)
    # the scale the module shows (0–1, REACTKDLib.topology.ATTENTION_RANGE), so pictures of cases compare
    im = ax.imshow(shown, cmap=cmap, vmin=ATTENTION_RANGE[0], vmax=ATTENTION_RANGE[1], alpha=opacity,
                   interpolation="nearest")
    near = np.abs(pts[:, 2] - slice_k) <= 3 if len(pts) else np.zeros(0, bool)
    for (i, j, _), label, ok in zip(pts, labels, near):
        if ok:
            ax.plot(i, j, "o", ms=7, mfc="none", mec="#33e6ff", mew=2)
            ax.annotate(label, (i, j), xytext=(6, -6), textcoords="offset points", color="#33e6ff", fontsize=8)
    if flip_x:
        ax.invert_xaxis()
    if flip_y:
        ax.invert_yaxis()
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="attention")
    ax.set_title(grade_text, fontsize=10)
    ax.text(0.01, 0.01, f"axial slice {slice_k}", transform=ax.transAxes, color="w", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
