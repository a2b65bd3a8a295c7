"""A run folder holds one experiment: created with its format marker and resolved config, resumed, or refused.

``RUN/run.json`` (``{"format": "reactkd-run-2", "kind": "grading" | "segmentation", "reactkd_version"}``, and
the commit, date and machine it was created on: :mod:`reactkd.config.provenance`) is written first, then
``RUN/config.yaml``. Every reader checks it (:func:`read_run_info`): a folder of an older format, or of the
other kind, is refused in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from reactkd import __version__
from reactkd.config.experiment import ExperimentConfig
from reactkd.config.identity import config_identity
from reactkd.config.load import config_from_mapping, dump_config
from reactkd.config.provenance import run_provenance
from reactkd.utils.atomic import atomic_path, atomic_write_text
from reactkd.utils.formats import RUN_FORMAT, check_format
from reactkd.utils.typed import ConfigError, to_dict

__all__ = ["prepare_run_dir", "read_run_info", "read_run_config", "RUN_FILE", "GRADING", "SEGMENTATION"]

RUN_FILE = "run.json"
GRADING, SEGMENTATION = "grading", "segmentation"
OLDER_RUN = ("train it again into a new folder (`reactkd train --out NEW`, or `seg-distill`); its files stay "
             "readable as they are")


def read_run_info(run_dir: str | Path, kind: str | None = GRADING) -> dict:
    """The folder's ``run.json`` after checking its format and (unless ``kind`` is None) its kind.

    Raises:
        FileNotFoundError: not a run folder (neither ``run.json`` nor ``config.yaml``).
        FormatError: a run folder of another format version (one written before ``run.json`` included).
        ValueError: a run folder of the other kind, or an unreadable ``run.json``.
    """
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    if not path.is_file():
        if not (run_dir / "config.yaml").is_file():
            raise FileNotFoundError(f"{run_dir} is not a REACTKD run folder (no {RUN_FILE}).")
        check_format(None, RUN_FORMAT, f"run folder {run_dir}", OLDER_RUN)
    try:
        info = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: not readable JSON ({err}); the run folder is damaged.") from None
    if not isinstance(info, dict):
        raise ValueError(f"{path}: must be a JSON object; the run folder is damaged.")
    check_format(info.get("format"), RUN_FORMAT, f"run folder {run_dir}", OLDER_RUN)
    if kind is not None and info.get("kind") != kind:
        raise ValueError(f"{run_dir} is a {info.get('kind')} run folder, not a {kind} one.")
    return info


def read_run_config(run_dir: str | Path) -> ExperimentConfig:
    """The experiment config of a grading run folder (its format checked first)."""
    run_dir = Path(run_dir)
    read_run_info(run_dir, GRADING)
    try:
        return config_from_mapping(yaml.safe_load((run_dir / "config.yaml").read_text()))
    except FileNotFoundError:
        raise FileNotFoundError(f"{run_dir} has no config.yaml: the run was never started.") from None
    except ConfigError as err:
        raise ConfigError(f"{run_dir / 'config.yaml'}: {err}") from None


def prepare_run_dir(config: Any, run_dir: Path, identity=config_identity, kind: str = GRADING) -> None:
    """Create ``run_dir`` with ``run.json`` and ``config.yaml``, or accept it when it holds this same
    experiment (resume).

    ``identity`` maps a config's plain dict to what must match (default: the experiment config's
    :func:`~reactkd.config.identity.config_identity`).

    Raises:
        ConfigError: the folder holds another experiment, or is not empty and not a run folder; nothing
            in it is changed.
        FormatError: the folder is a run folder of another format version.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / "config.yaml"
    if (run_dir / RUN_FILE).is_file() or saved.is_file():
        read_run_info(run_dir, kind)
        if saved.is_file():
            if identity(yaml.safe_load(saved.read_text())) != identity(to_dict(config)):
                raise ConfigError(f"{run_dir} holds a run of a different config; choose another --out "
                                  f"(nothing in it was changed).")
            return
    elif any(run_dir.iterdir()):
        raise ConfigError(f"{run_dir} is not empty and is not a REACTKD run; choose another --out.")
    else:
        atomic_write_text(run_dir / RUN_FILE, json.dumps({"format": RUN_FORMAT, "kind": kind,
                                                          "reactkd_version": __version__, **run_provenance()}))
    with atomic_path(saved) as tmp:  # a kill mid-write must not leave a torn config that refuses the resume
        dump_config(config, tmp)
