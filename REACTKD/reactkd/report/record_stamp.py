"""The stamp of a results section: which code, config, cohort, seeds, machine and day its table comes from, and
whether its config is still the shipped one.

Everything is read from what the runs recorded: ``run.json`` (the commit, reactkd version, creation date and
machine, :mod:`reactkd.config.provenance`), the resolved config (``RUN/config.yaml``, or a suite's base config
in ``suite.yaml``) and the cohort's ``cohort.json``. A run folder that predates a record says so ("not
recorded"); its date then comes from the file dates of ``run.json``, and the stamp says that too.

**Stale.** A section's config is hashed as written (SHA-256 of the YAML text). The shipped config of the same
name (``reactkd/configs/NAME.yaml``) is resolved the way a run resolved it (loaded, with the run's ``seed``,
dumped as :func:`reactkd.config.load.dump_config` writes ``config.yaml``) and hashed alike: a different hash
means the shipped config (or its defaults) changed since the run, or the run overrode a value; the section is
marked stale and the keys that differ are named. Where a run's files lie is no setting: ``data.cache_dir``, and a
``data.manifest`` that is the config's own phantom cohort generated elsewhere (:mod:`reactkd.report.record_location`),
are read as shipped before hashing, and the stamp says so.

**Cohort.** A run's cohort is ``RUN/cohort/cohort.json`` where there is one (the embedded phantom, or the slim copy
``reactkd results --collect`` keeps beside a run's summary), else the ``cohort.json`` beside its ``data.manifest``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reactkd.config.load import load_config
from reactkd.config.provenance import UNKNOWN
from reactkd.config.run_dir import GRADING, RUN_FILE, read_run_info
from reactkd.config.shipped import CONFIG_DIR
from reactkd.phantom.cohort import GENERATOR
from reactkd.report.record_location import as_located
from reactkd.utils.typed import to_dict

__all__ = ["RunRecord", "ConfigCheck", "ShippedConfigs", "Stamp", "stamp_runs", "config_text", "NOT_RECORDED",
           "cohort_folder", "read_cohort", "COHORT_FILE", "FILE_DATE"]

NOT_RECORDED = "not recorded"
COHORT_FILE = "cohort.json"
FILE_DATE = "run_json_file_date"
"""The key a collected copy of a ``run.json`` without a creation date keeps the original's file date under."""


def cohort_folder(own: Path, manifest: str | None) -> Path:
    """The folder of a run's (or suite's) cohort: ``own`` where it holds a ``cohort.json``, else the manifest's
    folder, else ``own`` (nothing recorded)."""
    if (own / COHORT_FILE).is_file() or not manifest:
        return own
    return Path(manifest).parent


def read_cohort(folder: Path) -> dict | None:
    """``folder/cohort.json`` as a mapping; None where there is none or it is no readable JSON object."""
    try:
        meta = json.loads((folder / COHORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def config_text(mapping: Mapping) -> str:
    """A resolved config mapping as ``config.yaml`` holds it (the text :func:`~reactkd.config.load.dump_config`
    writes), so that its hash equals the file's."""
    return yaml.safe_dump(dict(mapping), sort_keys=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunRecord:
    """What a run folder records about itself: ``run.json``, the config's text and mapping."""

    folder: Path
    info: dict
    config_text: str
    config: dict

    @classmethod
    def read(cls, folder: Path) -> RunRecord:
        """Raises FileNotFoundError / FormatError / ValueError for a folder that is no readable run folder."""
        info = read_run_info(folder, kind=None)
        path = folder / "config.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"{folder} has no config.yaml: the run was never started.")
        text = path.read_text(encoding="utf-8")
        config = yaml.safe_load(text)
        if not isinstance(config, dict):
            raise ValueError(f"{path}: not a config mapping; the run folder is damaged.")
        return cls(folder, info, text, config)

    @property
    def kind(self) -> str:
        return str(self.info.get("kind", GRADING))

    @property
    def seed(self) -> int | None:
        return self.config.get("seed")

    def cohort_dir(self) -> Path:
        """The cohort the run trained on: ``RUN/cohort`` where it holds a ``cohort.json``, else its
        ``data.manifest``'s folder."""
        return cohort_folder(self.folder / "cohort", (self.config.get("data") or {}).get("manifest"))

    def date(self) -> tuple[str, bool]:
        """``(YYYY-MM-DD, recorded)``: the creation date in ``run.json``, else ``run.json``'s file date (kept in a
        collected copy's ``run.json`` as :data:`FILE_DATE`, since a checkout does not keep file dates)."""
        created = self.info.get("created")
        if isinstance(created, str) and len(created) >= 10:
            return created[:10], True
        kept = self.info.get(FILE_DATE)
        if isinstance(kept, str) and len(kept) == 10:
            return kept, False
        mtime = (self.folder / RUN_FILE).stat().st_mtime
        return datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).date().isoformat(), False

    def machine(self) -> str:
        m = self.info.get("machine")
        if not isinstance(m, dict):
            return NOT_RECORDED
        return f"{m.get('cpu', UNKNOWN)}, {m.get('threads', '?')} torch thread(s)"


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in list(a) + [k for k in b if k not in a]
                for d in _differences(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


@dataclass(frozen=True)
class ConfigCheck:
    """One resolved config of a section against the shipped config of its name.

    ``shipped_sha256`` is None where there is nothing to compare with (no shipped config of that name, or a
    kind of run this record cannot resolve); ``differs`` names the keys (dotted) where the two disagree;
    ``located`` the location keys read as shipped before hashing (``sha256`` is then of the config so read).
    """

    name: str
    seed: int | None
    sha256: str
    shipped_sha256: str | None
    differs: tuple[str, ...] = ()
    located: tuple[str, ...] = ()

    @property
    def stale(self) -> bool:
        return self.shipped_sha256 is not None and self.shipped_sha256 != self.sha256


class ShippedConfigs:
    """The shipped configs, resolved per run kind: ``loaders[kind](path, overrides)`` returns a config object
    (default: grading runs with :func:`~reactkd.config.load.load_config`; the command adds segmentation)."""

    def __init__(self, config_dir: Path = CONFIG_DIR, loaders: Mapping[str, Callable] | None = None):
        self.config_dir = Path(config_dir)
        self.loaders = {GRADING: load_config, **(loaders or {})}

    def check(self, kind: str, text: str, cohort: Mapping | None = None) -> ConfigCheck:
        """Check a config's text (``config.yaml`` or a suite's base) against the shipped config of its name;
        ``cohort``: the ``cohort.json`` of the cohort it trained on (None: none found)."""
        mapping = yaml.safe_load(text) or {}
        name, seed = str(mapping.get("name", "?")), mapping.get("seed")
        path = self.config_dir / f"{name}.yaml"
        if kind not in self.loaders or not path.is_file():
            return ConfigCheck(name, seed, sha256(text), None)
        shipped = config_text(to_dict(self.loaders[kind](path, [f"seed={seed}"] if seed is not None else None)))
        ours = yaml.safe_load(shipped)
        located, keys = as_located(mapping, ours, cohort)
        return ConfigCheck(name, seed, sha256(config_text(located) if keys else text), sha256(shipped),
                           tuple(_differences(located, ours)), keys)


def describe_cohort(folder: Path) -> str:
    """The phantom generator and parameters from ``folder/cohort.json``, or why there are none."""
    if not (folder / COHORT_FILE).is_file():
        return f"{NOT_RECORDED} (no cohort.json beside the run's manifest)"
    meta = read_cohort(folder)
    if meta is None:
        return f"{NOT_RECORDED} (cohort.json is not a readable JSON object)"
    if meta.get("generator") != GENERATOR:
        return "not the phantom (a cohort.json of another generator)"
    p = meta.get("parameters") or {}
    return (f"{GENERATOR} version {meta.get('generator_version', '?')} ({p.get('site', 'main')} site, "
            f"{p.get('n_patients', '?')} patients, seed {p.get('seed', '?')})")


def _joined(values, empty: str = NOT_RECORDED) -> str:
    unique = list(dict.fromkeys(str(v) for v in values))
    return "; ".join(unique) if unique else empty


@dataclass(frozen=True)
class Stamp:
    """Everything a section is stamped with (each a sorted, de-duplicated list over the section's runs)."""

    configs: tuple[ConfigCheck, ...]
    commits: tuple[str, ...]
    versions: tuple[str, ...]
    cohorts: tuple[str, ...]
    seeds: tuple[int, ...]
    machines: tuple[str, ...]
    dates: tuple[str, ...]
    dates_recorded: bool

    @property
    def stale(self) -> bool:
        return any(c.stale for c in self.configs)

    def stale_line(self) -> str:
        """One sentence: which config no longer matches its shipped version, and where they differ."""
        parts = []
        for c in (c for c in self.configs if c.stale):
            keys = ", ".join(f"`{k}`" for k in c.differs[:8]) + (", …" if len(c.differs) > 8 else "")
            seed = f" (seed {c.seed})" if len(self.configs) > 1 else ""
            parts.append(f"`{c.name}`{seed} differs in {keys or 'its text'}")
        return ("**Stale:** the config these figures were measured with is not the shipped one of its name: "
                + "; ".join(parts) + ". Re-run the section's command with the shipped config.")

    def lines(self) -> list[str]:
        """The stamp as a markdown list."""
        configs = []
        for c in self.configs:
            seed = f" (seed {c.seed})" if len(self.configs) > 1 else ""
            status = ("as shipped" if c.shipped_sha256 == c.sha256 else "**stale**" if c.stale
                      else "no shipped config of this name: not compared")
            if c.located:
                keys = ", ".join(f"`{k}`" for k in c.located)
                status += f" (hashed with {keys} as shipped: where its cohort and cache lie, not settings)"
            configs.append(f"`{c.name}`{seed} sha256 `{c.sha256}`: {status}")
        if self.dates:
            span = self.dates[0] if len(self.dates) == 1 else f"{self.dates[0]} to {self.dates[-1]}"
            date = span + (" (recorded in run.json)" if self.dates_recorded
                           else " (file dates of run.json: the run records no date)")
        else:
            date = NOT_RECORDED
        commits = _joined(c if c == NOT_RECORDED else f"`{c}`" for c in self.commits)
        return [f"- commit: {commits} (reactkd {_joined(self.versions)})",
                "- config: " + ("; ".join(configs) or NOT_RECORDED),
                f"- cohort: {_joined(self.cohorts)}",
                f"- seeds: {', '.join(str(s) for s in self.seeds) or NOT_RECORDED}",
                f"- machine: {_joined(self.machines)}",
                f"- date: {date}"]


def stamp_runs(runs: list[RunRecord], shipped: ShippedConfigs, base: tuple[str, str, Path, list[int]] | None = None
               ) -> Stamp:
    """The stamp of a table made from ``runs``.

    ``base``: for the runs of a suite (``reactkd compare``/``ablate``), ``(kind, base config text, cohort folder,
    seeds)`` from its ``suite.yaml``: the config is the suite's base (each row is an edit of it), the cohort the
    suite's.
    """
    if base is not None:
        kind, text, cohort, seeds = base
        checks = [shipped.check(kind, text, read_cohort(cohort))]
        cohorts = [describe_cohort(cohort)]
    else:
        texts: dict[str, RunRecord] = {}
        for r in sorted(runs, key=lambda r: (r.seed is None, r.seed or 0)):
            texts.setdefault(r.config_text, r)
        checks = list(dict.fromkeys(shipped.check(r.kind, text, read_cohort(r.cohort_dir()))
                                    for text, r in texts.items()))
        cohorts = [describe_cohort(r.cohort_dir()) for r in runs]
        seeds = [r.seed for r in runs if r.seed is not None]
    dates = [r.date() for r in runs]
    return Stamp(configs=tuple(checks),
                 commits=tuple(sorted({str(r.info.get("commit", NOT_RECORDED)) for r in runs})),
                 versions=tuple(sorted({str(r.info.get("reactkd_version", "?")) for r in runs})),
                 cohorts=tuple(dict.fromkeys(cohorts)), seeds=tuple(sorted(set(seeds))),
                 machines=tuple(sorted({r.machine() for r in runs})), dates=tuple(sorted({d for d, _ in dates})),
                 dates_recorded=all(ok for _, ok in dates))
