"""Writing files so that a reader never sees a half-written one, and two writers never mix.

Every output is first written to a temporary file in the destination's own folder (same filesystem),
then renamed over the destination with :func:`os.replace`, which POSIX and Windows perform atomically:
a process killed at any point leaves either the old file, the new file, or a hidden ``.NAME.*.tmp``
file that no reader looks for — never a truncated file under the real name.

:class:`FolderLock` refuses a second writer into the same output folder (an ``O_CREAT | O_EXCL`` lock
file holding the owner's process id; a lock left by a process that no longer exists is taken over).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_outputs", "atomic_write_text", "FolderLock", "FolderBusyError"]


class FolderBusyError(ValueError):
    """Another live process is writing into the same output folder."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffixes, so writers pick the same format); on a
    clean exit it replaces ``path`` atomically, on any exception it is removed and ``path`` is untouched.

    Example::

        with atomic_path(out / "attention.nii.gz") as tmp:
            sitk.WriteImage(image, str(tmp))
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.suffixes else ""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_outputs(paths: list[str | os.PathLike], marker: str | os.PathLike) -> Iterator[dict[Path, Path]]:
    """Write several files that belong together, ``marker`` (e.g. ``prediction.json``) saying the set is
    complete. Yields ``{final path: temporary path}`` for ``paths`` and ``marker``; on a clean exit the old
    marker is removed first, the others are renamed into place, the marker last — so at every instant a
    present marker comes with the files written beside it, never with a mix of an old and a new run.
    On an exception every temporary file is removed and nothing already in place is touched.
    """
    marker = Path(marker)
    finals = [Path(p) for p in paths] + [marker]
    temps: dict[Path, Path] = {}
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            suffix = "".join(final.suffixes[-2:]) if final.suffixes else ""
            fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=f".tmp{suffix}")
            os.close(fd)
            temps[final] = Path(tmp)
        yield dict(temps)
        marker.unlink(missing_ok=True)
        for final in finals:
            os.replace(temps[final], final)
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`), fsynced before the rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FolderLock:
    """``with FolderLock(folder, what):`` — hold ``folder/.reactkd.lock`` while writing into ``folder``.

    Raises:
        FolderBusyError: the lock is held by another live process (the message names the folder and pid).
    """

    NAME = ".reactkd.lock"

    def __init__(self, folder: str | os.PathLike, what: str = "output"):
        self.folder, self.what = Path(folder), what
        self.path = self.folder / self.NAME

    def __enter__(self) -> "FolderLock":
        self._created = not self.folder.exists()  # a folder made only for the lock goes again if left empty
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    owner = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and owner != os.getpid() and _alive(owner):
                    raise FolderBusyError(
                        f"{self.what} {self.folder}: another reactkd process (pid {owner}) is writing into this "
                        f"folder; wait for it or choose another folder."
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            return self
        raise FolderBusyError(f"{self.what} {self.folder}: cannot take the lock {self.path}.")

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
        if self._created and not any(self.folder.iterdir()):
            self.folder.rmdir()
