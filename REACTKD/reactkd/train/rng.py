"""The process-wide random streams, saved in ``last.pt`` and restored on resume, so a resumed stage draws
what an uninterrupted one would."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["rng_state", "set_rng_state"]


def rng_state() -> dict:
    """The process-wide generators (torch CPU and CUDA, NumPy with its cached Gaussian, Python)."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(keys.astype(np.int64)),
             "numpy_pos": torch.tensor(pos), "numpy_gauss": torch.tensor([float(has_gauss), float(cached)],
                                                                          dtype=torch.float64),
             "python": torch.tensor(random.getstate()[1], dtype=torch.int64)}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state` (CUDA's only where the same number of devices is visible)."""
    torch.set_rng_state(state["torch"])
    has_gauss, cached = state["numpy_gauss"].tolist()
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), int(state["numpy_pos"]),
                         int(has_gauss), float(cached)))
    random.setstate((3, tuple(int(v) for v in state["python"].tolist()), None))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
