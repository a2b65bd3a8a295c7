"""Where a run's files lie is no setting of its config: the keys a run may differ in from the shipped config of its
name without being stale.

- ``data.cache_dir`` is a folder for preprocessed arrays: always a location.
- ``data.manifest`` names the cohort. Where the shipped config has none (``null``: the embedded phantom, generated
  from ``data.phantom_patients``, ``phantom_seed`` and ``phantom_size`` at the main site), a run whose manifest is a
  phantom cohort generated with exactly those parameters (its ``cohort.json``: the phantom generator, and those
  ``parameters``) trained on the same cohort, generated elsewhere (``reactkd compare``/``ablate`` generate the
  suite's cohort once and point every row at it). Any other manifest is another cohort: a setting.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from reactkd.phantom.cohort import GENERATOR, SITES

__all__ = ["LOCATION_KEYS", "is_config_phantom", "as_located"]

LOCATION_KEYS = ("data.manifest", "data.cache_dir")
"""The keys :func:`as_located` may read as shipped."""


def is_config_phantom(cohort: Mapping | None, data: Mapping) -> bool:
    """Whether ``cohort`` (a ``cohort.json`` mapping, None where there is none) is the phantom cohort the config's
    ``data`` section would generate when it names no manifest."""
    if not isinstance(cohort, Mapping) or cohort.get("generator") != GENERATOR:
        return False
    p = cohort.get("parameters")
    if not isinstance(p, Mapping):
        return False
    size = data.get("phantom_size") or SITES["main"].size
    return (p.get("site", "main") == "main" and p.get("n_patients") == data.get("phantom_patients")
            and p.get("seed") == data.get("phantom_seed") and list(p.get("size") or ()) == list(size))


def as_located(config: Mapping, shipped: Mapping, cohort: Mapping | None) -> tuple[dict, tuple[str, ...]]:
    """``config`` with its locations read as ``shipped`` has them, and the dotted keys so read (empty: none).

    Args:
        config: a run's resolved config (``config.yaml``) as a mapping.
        shipped: the shipped config of its name, resolved alike.
        cohort: the ``cohort.json`` of the run's cohort (None: none found).
    """
    out = copy.deepcopy(dict(config))
    data, ours = out.get("data"), shipped.get("data")
    if not isinstance(data, dict) or not isinstance(ours, Mapping):
        return out, ()
    keys = []
    if (data.get("manifest") and "manifest" in ours and ours["manifest"] is None
            and is_config_phantom(cohort, data)):
        data["manifest"] = None
        keys.append("data.manifest")
    if "cache_dir" in data and "cache_dir" in ours and data["cache_dir"] != ours["cache_dir"]:
        data["cache_dir"] = ours["cache_dir"]
        keys.append("data.cache_dir")
    return out, tuple(keys)
