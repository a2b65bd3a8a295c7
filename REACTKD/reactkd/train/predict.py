"""Run a trained classifier over a loader: logits, embeddings and ids, optionally withholding a modality."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from reactkd.models import features_from_batch
from reactkd.train.runtime import Runtime

__all__ = ["predict_loader", "withhold"]


def withhold(batch: dict, modality: Literal["pet", "ct"] | None) -> dict:
    """Declare a modality missing (``modality_mask``) and blank it. The mask, not the zeros, tells the
    model; blanking only keeps withheld data from leaking in."""
    if modality is None:
        return batch
    if modality not in ("pet", "ct"):
        raise ValueError(f"`withhold` must be 'pet', 'ct' or None, got {modality!r}.")
    b = dict(batch)
    n = b["ct"].shape[0]
    pet_present = b.get("pet_present")
    has_pet = pet_present.any(dim=1) if pet_present is not None else torch.ones(n, dtype=torch.bool)
    if modality == "pet":
        b["pet"] = torch.zeros_like(b["pet"])
        b["modality_mask"] = torch.stack([torch.ones(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)], 1)
    else:
        if not bool(has_pet.all()):
            raise ValueError("cannot withhold CT from a case without PET: nothing would be left.")
        b["ct"] = torch.zeros_like(b["ct"])
        b["modality_mask"] = torch.stack([torch.zeros(n, dtype=torch.bool), has_pet.cpu()], 1)
    return b


@torch.no_grad()
def predict_loader(model: nn.Module, loader: DataLoader, runtime: Runtime,
                   withhold_modality: Literal["pet", "ct"] | None = None) -> dict:
    """Returns ``{"case_id", "patient_id", "label" (N,), "logits" (N, K), "embedding" (N, E)}`` as numpy."""
    runtime.prepare_model(model).eval()
    out: dict[str, list] = {"case_id": [], "patient_id": [], "label": [], "logits": [], "embedding": []}
    for batch in loader:
        batch = runtime.to_device(withhold(batch, withhold_modality))
        with runtime.autocast():
            feats = features_from_batch(model, batch)
        out["logits"].append(feats.logits.float().cpu().numpy())
        out["embedding"].append(feats.embedding.float().cpu().numpy())
        out["label"].append(batch["label"].cpu().numpy())
        out["case_id"] += list(batch["case_id"])
        out["patient_id"] += list(batch["patient_id"])
    return {k: (np.concatenate(v) if k in ("logits", "embedding", "label") else v) for k, v in out.items()}
