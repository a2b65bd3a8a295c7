"""Where and with what a run was trained: the source commit, the machine and the date, recorded in ``run.json``.

:func:`run_provenance` is what a new run folder records beside its format (:mod:`reactkd.config.run_dir`), so
that a table made from the run later (``reactkd results``) can say which code, machine and day produced it.
Every lookup is failure-safe: outside a git checkout the commit is ``"unknown"``, on a system without
``/proc/cpuinfo`` the CPU is what :mod:`platform` says.
"""

from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

import torch

__all__ = ["source_commit", "cpu_model", "run_provenance", "UNKNOWN"]

UNKNOWN = "unknown"
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def source_commit(package_dir: Path = PACKAGE_DIR) -> str:
    """The commit of the checkout this ``reactkd`` is imported from (``-dirty`` when tracked files differ from
    it), or ``"unknown"``: no git, not a checkout, or the package is not a tracked file of it (an installed
    copy inside some other repository)."""
    try:
        _git("ls-files", "--error-unmatch", "__init__.py", cwd=package_dir)
        head = _git("rev-parse", "HEAD", cwd=package_dir)
        dirty = _git("status", "--porcelain", "--untracked-files=no", cwd=package_dir)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return head + ("-dirty" if dirty else "") if head else UNKNOWN


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere :func:`platform.processor`), or ``"unknown"``."""
    try:
        for line in Path(cpuinfo).read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() == "model name" and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or UNKNOWN


def run_provenance() -> dict:
    """``{"commit", "created" (UTC, ISO 8601 to the second), "machine": {"cpu", "threads"}}``; ``threads`` is
    torch's intra-op thread count in this process (set by the training runtime before the folder is made)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return {"commit": source_commit(), "created": now.isoformat().replace("+00:00", "Z"),
            "machine": {"cpu": cpu_model(), "threads": torch.get_num_threads()}}
