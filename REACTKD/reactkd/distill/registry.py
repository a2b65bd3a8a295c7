"""The distiller registry: config key → distiller class."""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from reactkd.utils.registry import Registry

__all__ = ["DISTILLERS", "build_distiller"]

DISTILLERS = Registry("distiller")
"""Filled by ``@DISTILLERS.register(key=...)`` in each distiller module (imported by ``reactkd.distill``)."""


def build_distiller(name: str, student: nn.Module, teacher: nn.Module | list[nn.Module], **kwargs: Any) -> nn.Module:
    """Build the distiller registered as ``name``, e.g. ``build_distiller("reactkd", s, t, gw_weight=0.5)``.

    Raises:
        ValueError: for an unknown ``name`` (the message lists the registered keys).
    """
    return DISTILLERS.build(name, student, teacher, **kwargs)
