"""A child process whose output is read by a thread and collected by polling, so a GUI timer can show
progress without blocking, and which can be cancelled with everything it started.

Slicer's GUI calls :meth:`BackgroundProcess.poll` from a ``qt.QTimer`` (the same idea as
MONAIAuto3DSeg, which runs inference in a separate ``PythonSlicer`` process): the GUI thread never
waits on the child. Scripts may call :meth:`wait`.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

__all__ = ["BackgroundProcess"]

_SEPARATOR = re.compile(r"(\r\n|\r|\n)")


class BackgroundProcess:
    """Start ``command`` now; its stdout and stderr are merged and split into lines.

    Attributes:
        returncode: ``None`` while running.
        lines: every line read so far (kept for error reports).
        cancelled: :meth:`cancel` was called.
    """

    def __init__(self, command: list[str], env: dict | None = None, cwd: str | None = None):
        self.command = [str(c) for c in command]
        self.lines: list[str] = []
        self.cancelled = False
        self._queue: queue.Queue[str | None] = queue.Queue()
        kwargs = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True  # own process group: cancel stops DataLoader workers too
        else:
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        self._proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env, cwd=cwd, **kwargs)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Split output into lines. A progress bar (tqdm) redraws as ``\rtext`` with the separator first,
        so text after a ``\r`` is complete as soon as it arrives: it is passed on at once instead of
        waiting for the next redraw (which comes only when the epoch ends)."""
        buffer, after_cr = "", False
        stream = self._proc.stdout
        while True:
            chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            parts = _SEPARATOR.split(buffer + chunk.decode("utf-8", errors="replace"))
            segments, separators = parts[0::2], parts[1::2]
            for line in segments[:-1]:
                if line.strip():
                    self._queue.put(line)
            if separators:
                after_cr = separators[-1] == "\r"
            buffer = segments[-1]
            if buffer and after_cr:
                if buffer.strip():
                    self._queue.put(buffer)
                buffer = ""
        if buffer.strip():
            self._queue.put(buffer)
        self._queue.put(None)

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if not self._reader.is_alive() else None

    @property
    def running(self) -> bool:
        return self.returncode is None

    def poll(self) -> list[str]:
        """New lines since the last call (never blocks)."""
        new = []
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                new.append(line)
        self.lines += new
        return new

    def cancel(self, grace_s: float = 5.0) -> None:
        """Stop the process and its children: SIGTERM to the group, SIGKILL after ``grace_s``."""
        self.cancelled = True
        if self._proc.poll() is not None:
            return
        try:
            if os.name == "posix":
                os.killpg(self._proc.pid, signal.SIGTERM)
            else:
                self._proc.send_signal(signal.CTRL_BREAK_EVENT)
            self._proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            if os.name == "posix":
                os.killpg(self._proc.pid, signal.SIGKILL)
            else:
                self._proc.kill()
            self._proc.wait()
        except ProcessLookupError:
            pass

    def wait(self, timeout: float | None = None, on_line=None) -> int:
        """Block until the process ends (scripts, tests); ``on_line(line)`` for each line.

        Raises:
            TimeoutError: still running after ``timeout`` seconds (the process is cancelled first).
        """
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            for line in self.poll():
                if on_line:
                    on_line(line)
            code = self.returncode
            if code is not None:
                for line in self.poll():
                    if on_line:
                        on_line(line)
                return code
            if end is not None and time.monotonic() > end:
                self.cancel()
                raise TimeoutError(f"{' '.join(self.command[:4])} … still running after {timeout} s; cancelled.")
            time.sleep(0.05)

    def __repr__(self) -> str:
        return f"BackgroundProcess(pid={self._proc.pid}, returncode={self.returncode}, {sys.platform})"
