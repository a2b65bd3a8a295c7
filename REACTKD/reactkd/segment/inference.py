"""Segment a CT with a trained seg model: sliding windows on the isotropic grid, labels on the CT's grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from monai.inferers import sliding_window_inference

from reactkd.config.run_dir import SEGMENTATION, read_run_info
from reactkd.segment.classes import SEG_CLASSES
from reactkd.segment.data import PAD_VALUE
from reactkd.segment.models import SegNet
from reactkd.segment.postprocess import NONE, postprocess_labels
from reactkd.segment.preprocess import SegPreprocess, ct_to_input, labels_to_ct
from reactkd.train.checkpoint import load_checkpoint

__all__ = ["predict_labels", "load_seg_model", "seg_checkpoint", "segment_ct", "seg_metadata"]


@torch.no_grad()
def predict_labels(model: torch.nn.Module, image: np.ndarray, patch: int, overlap: float = 0.25,
                   device: str | torch.device = "cpu", sw_batch_size: int = 2, *, progress: bool = False) -> np.ndarray:
    """Argmax labels ``(D, H, W)`` uint8 of ``image`` ``(D, H, W)``.

    MONAI's ``sliding_window_inference`` tiles volumes larger than the training patch (Gaussian
    blending of overlapping windows) and pads smaller ones with the air value. ``progress`` draws its
    progress bar over the windows (tqdm, on stderr): what a GUI running ``reactkd segment`` shows.
    """
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None].to(device)
    logits = sliding_window_inference(x, (patch,) * 3, sw_batch_size, model, overlap=overlap, mode="gaussian",
                                      cval=PAD_VALUE, progress=progress)
    return logits.argmax(1)[0].to(torch.uint8).cpu().numpy()


def seg_metadata(kind: str, model: SegNet, pre: SegPreprocess, patch: int, overlap: float, extra: dict | None = None,
                 postprocess: str = NONE) -> dict:
    """What :func:`load_seg_model` and :func:`segment_ct` need to rebuild and run a model."""
    return {"kind": kind, "family": model.family.value, "model_kwargs": model.kwargs, "classes": list(SEG_CLASSES),
            "preprocess": pre.to_dict(), "patch_size": int(patch), "sw_overlap": float(overlap),
            "postprocess": postprocess, **(extra or {})}


def seg_checkpoint(model: str | Path, which: str = "student") -> Path:
    """A checkpoint file as given, or ``RUN/<which>/best.pt`` of a ``seg-distill`` run folder.

    Raises:
        FileNotFoundError: no such file, or a folder without that stage's ``best.pt``.
    """
    path = Path(model)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"model not found: {path} (give a seg checkpoint or a seg-distill run folder)")
    read_run_info(path, SEGMENTATION)
    best = path / which / "best.pt"
    if not best.is_file():
        raise FileNotFoundError(f"{path} holds no trained seg {which} ({best} is missing).")
    return best


def load_seg_model(model: str | Path, device: str | torch.device = "cpu", which: str = "student"):
    """Returns ``(SegNet in eval mode, metadata)``.

    Raises:
        ValueError: the checkpoint is not a segmentation model (e.g. a grading student).
    """
    path = seg_checkpoint(model, which)
    state, meta = load_checkpoint(path, map_location=device)
    if meta.get("kind") not in ("seg_teacher", "seg_student"):
        raise ValueError(f"{path} holds a {meta.get('kind')!r} checkpoint, not a segmentation model "
                         f"(train one with `reactkd seg-distill`).")
    net = SegNet(meta["family"], 1, len(meta["classes"]), **meta["model_kwargs"])
    net.load_state_dict(state["model"])
    return net.to(device).eval(), meta


def segment_ct(model: torch.nn.Module, meta: dict, ct: sitk.Image, device: str | torch.device = "cpu",
               postprocess: str | None = None, *, progress: bool = False) -> sitk.Image:
    """Labels (0 background, 1 liver parenchyma, 2 tumour) as a uint8 image on ``ct``'s grid.

    ``postprocess`` (:mod:`reactkd.segment.postprocess`): None = the model's own setting (``meta``). It runs
    on the model's isotropic grid, before the labels are brought back onto the CT's grid.
    """
    pre = SegPreprocess.from_dict(meta["preprocess"])
    image, ref = ct_to_input(ct, pre)
    labels = predict_labels(model, image, int(meta["patch_size"]), float(meta["sw_overlap"]), device,
                            progress=progress)
    labels = postprocess_labels(labels, meta["postprocess"] if postprocess is None else postprocess)
    return labels_to_ct(labels, ref, ct)
