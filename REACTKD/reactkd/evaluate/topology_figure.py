"""Topology-map figures: an axial CT slice through the largest tumour with the node-attention map over it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from matplotlib.figure import Figure

from reactkd.evaluate.figures import figure_with_axes, png_path, save_png

__all__ = ["topology_slice_figure", "plot_topology_slice"]


def topology_slice_figure(ct: sitk.Image, attention: sitk.Image, result: dict,
                          window: tuple[float, float] = (-160.0, 240.0)) -> Figure:
    """CT (soft-tissue window) with the attention map (inferno, transparent where 0) on the axial slice
    holding the most attended node's centroid; the title gives the grade probabilities."""
    node = max(result["nodes"], key=lambda n: n["attention"])
    k = int(round(ct.TransformPhysicalPointToContinuousIndex(node["centroid_lps_mm"])[2]))
    k = min(max(k, 0), ct.GetSize()[2] - 1)
    image = np.clip(sitk.GetArrayViewFromImage(ct)[k].astype(np.float32), *window)
    att = sitk.GetArrayViewFromImage(attention)[k].astype(np.float32)
    fig, (ax,) = figure_with_axes(1, (5.0, 5.0))
    ax.imshow(image, cmap="gray", vmin=window[0], vmax=window[1])
    shown = ax.imshow(np.ma.masked_where(att <= 0, att), cmap="inferno", vmin=0.0, vmax=1.0, alpha=0.6)
    fig.colorbar(shown, ax=ax, fraction=0.046, label="node attention")
    probs = ", ".join(f"G{g} {p:.2f}" for g, p in result["probabilities"].items())
    ax.set_title(f"{result['case_id']}: grade {result['grade']} ({probs})", fontsize=9)
    ax.set_axis_off()
    return fig


def plot_topology_slice(ct: sitk.Image, attention: sitk.Image, result: dict, path: str | os.PathLike,
                        window: tuple[float, float] = (-160.0, 240.0), dpi: int = 120) -> Path:
    """:func:`topology_slice_figure` as a PNG at ``path``."""
    path = png_path(path)  # before drawing
    return save_png(topology_slice_figure(ct, attention, result, window), path, dpi)
