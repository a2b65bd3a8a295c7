"""Versions of what REACTKD writes to disk: experiment configs, run folders and checkpoints.

Each carries its format (``format: reactkd-config-2`` in a config, ``run.json`` in a run folder, the
``format`` entry of a checkpoint). A reader accepts its own version only: an older or newer file is
refused in one line naming both versions and the way forward, never translated silently.

Version 2 (this one): a grading head is ``head: {kind: gap|region|graph, ...}`` with the keys of that kind
only; ``cbam: null`` is no attention; the student's ``fusion_channels`` and ``cbam`` are explicit (taken
from the teacher it shares them with); the deployment condition is ``stage2.deploy``. Version 1 had no
format marker.
"""

from __future__ import annotations

import re

from reactkd.utils.typed import ConfigError

__all__ = ["CONFIG_FORMAT", "RUN_FORMAT", "CHECKPOINT_FORMAT", "FormatError", "check_format"]

CONFIG_FORMAT = "reactkd-config-2"
RUN_FORMAT = "reactkd-run-2"
CHECKPOINT_FORMAT = "reactkd-checkpoint-2"


class FormatError(ConfigError):
    """A file of another format version than this reactkd reads."""


def _version(name: str | None) -> int | None:
    match = re.fullmatch(r"reactkd-[a-z]+-(\d+)", str(name)) if name is not None else None
    return int(match.group(1)) if match else None


def check_format(found: str | None, expected: str, where: str, older: str) -> None:
    """Refuse ``found`` unless it is ``expected``.

    Args:
        found: the format the file declares; None: it declares none (version 1, before formats existed).
        expected: this reactkd's format.
        where: the file or folder, for the message.
        older: what to do with an older file (e.g. ``"train it again into a new --out"``).

    Raises:
        FormatError: ``"WHERE is reactkd-config-1 (…); this reactkd reads reactkd-config-2: OLDER."``, or
            for a newer or unknown format, that a newer reactkd wrote it.
    """
    if found == expected:
        return
    family = expected.rsplit("-", 1)[0]
    old = family + "-1 (it declares no format)" if found is None else repr(found)
    version, current = _version(found) if found is not None else 1, _version(expected)
    if version is not None and current is not None and version < current:
        raise FormatError(f"{where} is {old}; this reactkd reads {expected}: {older}.")
    raise FormatError(f"{where} is {old}, not a format this reactkd reads ({expected}): written by a newer "
                      f"reactkd or another tool; use that version.")
