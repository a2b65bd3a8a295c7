"""What the REACTKDTrainer panel needs, without Qt: the shipped configs, why Start cannot run yet (one line
per problem, naming the input and what to do), the command's overrides for a chosen manifest, and whether
a finished run holds a model to offer. The running job itself is :class:`REACTKDLib.training.TrainingRun`.
"""

from __future__ import annotations

from pathlib import Path

from REACTKDLib.commands import MODULE_DIR
from REACTKDLib.model import student_checkpoints

__all__ = ["OTHER_CONFIG", "shipped_configs", "training_overrides", "training_problems", "trained_model"]

OTHER_CONFIG = "Other YAML file…"


def shipped_configs(module_dir=MODULE_DIR) -> list[str]:
    """Names of the grading configs shipped with the core (``demo-cpu`` first; segmentation configs left out)."""
    names = sorted(p.stem for p in (Path(module_dir) / "reactkd" / "configs").glob("*.yaml")
                   if not p.stem.startswith("seg-"))
    return sorted(names, key=lambda n: (n != "demo-cpu", n))


def training_overrides(manifest) -> list[str]:
    """``reactkd train --set`` items for the panel's choices: the manifest, when one is chosen."""
    text = str(manifest or "").strip()
    return [f"data.manifest={Path(text).expanduser().resolve()}"] if text and text != "." else []


def training_problems(config: str, out, manifest=None, module_dir=MODULE_DIR) -> list[str]:
    """Why training cannot start (empty: it can)."""
    problems = []
    config = (config or "").strip()
    if not config:
        problems.append("Choose a config (demo-cpu trains in minutes on a CPU).")
    elif config not in shipped_configs(module_dir) and not Path(config).is_file():
        problems.append(f"Config not found: {config}. Choose a shipped config or an existing YAML file.")
    folder = str(out or "").strip()
    if not folder or folder == ".":
        problems.append("Choose an output folder for the run (a new one, or a partial run to resume).")
    elif Path(folder).is_file():
        problems.append(f"The output folder {folder} is a file: choose a folder.")
    text = str(manifest or "").strip()
    if text and text != "." and not Path(text).is_file():
        problems.append(f"Manifest not found: {text}. Choose a manifest CSV, or leave it empty for the config's data.")
    return problems


def trained_model(out) -> str | None:
    """The run folder when it holds trained fold students (the model to offer), else ``None``."""
    return str(out) if out and student_checkpoints(out) else None
