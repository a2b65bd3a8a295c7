"""Experiment configs shipped inside the package (so ``reactkd train --config demo-cpu`` works after a
plain ``pip install``): ``reactkd/configs/<name>.yaml``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CONFIG_DIR", "shipped_configs", "resolve_config_path"]

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def shipped_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str) -> Path:
    """A path as given if it exists, else a shipped config by name.

    Raises:
        FileNotFoundError: neither; the message lists the shipped names.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    raise FileNotFoundError(f"config not found: {name_or_path} (not a file, nor a shipped config: {shipped_configs()})")
