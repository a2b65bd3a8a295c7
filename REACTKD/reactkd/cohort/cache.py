"""A disk cache of preprocessed cases, keyed by the input files' identity and the preprocessing config."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from reactkd import __version__
from reactkd.cohort.manifest import CaseRecord
from reactkd.preprocess import ModelInput, PreprocessConfig, preprocess_case

__all__ = ["PreprocessCache", "cache_key"]


def _file_identity(path: Path) -> list:
    """Path, size and modification time of a file, or of every file in a folder (DICOM series)."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files]


def cache_key(record: CaseRecord, config: PreprocessConfig) -> str:
    """A hash that changes when any input file, the config, or the package version changes."""
    payload = {
        "case": [record.case_id, record.patient_id, record.grade, record.liver_mask, record.tumor_mask],
        "files": [_file_identity(p) for p in record.files()],
        "config": config.to_dict(),
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


class PreprocessCache:
    """Preprocess each case once; later calls read the ``.npz`` (and, with ``in_memory``, nothing at all).

    Args:
        root: folder for cache files (created on demand). ``None`` keeps results in memory only.
        config: preprocessing parameters (part of the key).
        in_memory: also keep loaded cases in RAM so that later epochs do no I/O at all.
    """

    def __init__(self, root: str | os.PathLike | None, config: PreprocessConfig = PreprocessConfig(), *,
                 in_memory: bool = True):
        self.root = Path(root) if root is not None else None
        self.config = config
        self.in_memory = in_memory
        self._memory: dict[str, ModelInput] = {}

    def path(self, record: CaseRecord) -> Path | None:
        if self.root is None:
            return None
        return self.root / f"{record.case_id}-{cache_key(record, self.config)}.npz"

    def get(self, record: CaseRecord) -> ModelInput:
        if record.case_id in self._memory:
            return self._memory[record.case_id]
        path = self.path(record)
        if path is not None and path.is_file():
            item = ModelInput.load(path)
        else:
            item = preprocess_case(record.load(), self.config)
            if path is not None:
                item.save(path)
        if self.in_memory:
            self._memory[record.case_id] = item
        return item
