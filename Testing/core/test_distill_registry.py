"""Distiller registry: keys, duplicate rejection, helpful errors, decorator forms."""

import pytest

from reactkd.distill import DISTILLERS, build_distiller
from reactkd.utils.registry import Registry

EXPECTED = ["at", "awmtkd", "cirkd", "kd", "ms_ca", "ms_sard", "mskd", "mtcmkd", "none", "reactkd"]
# The segmentation distillers (ReCo-KD) have their own registry: Testing/core/test_seg_distill.py


def test_all_methods_registered():
    assert DISTILLERS.keys() == EXPECTED and len(DISTILLERS) == 10 and "reactkd" in DISTILLERS


def test_unknown_key_lists_available_and_suggests():
    pattern = r"unknown distiller 'reactdk'; available: \[.*'reactkd'.*\].*Did you mean 'reactkd'"
    with pytest.raises(ValueError, match=pattern):
        build_distiller("reactdk", None, None)


def test_decorator_forms_and_duplicate_rejection():
    reg = Registry("thing")

    @reg.register
    class Bare:
        pass

    @reg.register()
    class Empty:
        pass

    @reg.register(key="custom")
    class Named:
        pass

    assert reg.keys() == ["Bare", "Empty", "custom"] and reg.get("custom") is Named
    with pytest.raises(ValueError, match="thing key 'custom' is already registered"):
        reg.register(Bare, key="custom")
    assert reg.get("custom") is Named  # the first registration survives
