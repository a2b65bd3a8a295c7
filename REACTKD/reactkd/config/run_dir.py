"""A run folder holds one experiment: created with its resolved config, resumed, or refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from reactkd.config.identity import config_identity
from reactkd.config.load import dump_config
from reactkd.utils.atomic import atomic_path
from reactkd.utils.typed import ConfigError, to_dict

__all__ = ["prepare_run_dir"]


def prepare_run_dir(config: Any, run_dir: Path, identity=config_identity) -> None:
    """Create ``run_dir`` with ``config.yaml``, or accept it when it holds this same experiment (resume).

    ``identity`` maps a config's plain dict to what must match (default: the experiment config's
    :func:`~reactkd.config.identity.config_identity`).

    Raises:
        ConfigError: the folder holds another experiment, or is not empty and not a run folder; nothing
            in it is changed.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = run_dir / "config.yaml"
    if saved.is_file():
        if identity(yaml.safe_load(saved.read_text())) != identity(to_dict(config)):
            raise ConfigError(f"{run_dir} holds a run of a different config; choose another --out "
                              f"(nothing in it was changed).")
        return
    if any(run_dir.iterdir()):
        raise ConfigError(f"{run_dir} is not empty and is not a REACTKD run; choose another --out.")
    with atomic_path(saved) as tmp:  # a kill mid-write must not leave a torn config that refuses the resume
        dump_config(config, tmp)
