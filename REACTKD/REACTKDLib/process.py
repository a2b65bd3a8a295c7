"""A child process whose output is read by a thread and collected by polling, so a GUI timer can show
progress without blocking, and which can be stopped with everything it started, on every OS.

Slicer's GUI calls :meth:`BackgroundProcess.poll` from a ``qt.QTimer`` (the same idea as
MONAIAuto3DSeg, which runs inference in a separate ``PythonSlicer`` process): the GUI thread never
waits on the child. Scripts may call :meth:`BackgroundProcess.wait`, passing ``process_events``
(``slicer.app.processEvents``) so the application keeps drawing while it waits.

Why the process tree: inside Slicer the child is started as ``PythonSlicer``, which on Windows (and in
some Linux/macOS layouts) is a launcher that sets up the environment and starts the real interpreter
(``python-real``) as *its* child; DataLoader workers are grandchildren. Stopping only the launcher leaves
the interpreter running (MONAIAuto3DSeg kills the tree with psutil for the same reason). So
:func:`stop_process_tree` lists the whole tree with psutil, asks every process to terminate, waits a grace
period and kills what is left. Without psutil it falls back to the POSIX process group (the child is a
session leader) or to Windows' ``taskkill /T /F``. On Windows the child gets ``CREATE_NO_WINDOW``: no
console window opens (and a user closing one cannot kill the run); console control events
(``CTRL_BREAK_EVENT``) are never used, since Slicer's GUI process has no console to share with the child.

Every started process is registered until it ends; :func:`stop_all` stops them all (the module calls it
when the scene closes and when the application is about to quit).
"""

from __future__ import annotations

import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import weakref

__all__ = ["BackgroundProcess", "popen_options", "stop_process_tree", "wait_for", "running_processes", "stop_all",
           "CREATE_NO_WINDOW"]

log = logging.getLogger("REACTKD")
_SEPARATOR = re.compile(r"(\r\n|\r|\n)")

CREATE_NO_WINDOW = getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000)
"""Windows process-creation flag: a console program runs without a console window (same value on every
Python; defined here so the Windows branch can be checked on any OS)."""

_REGISTRY: weakref.WeakSet = weakref.WeakSet()
_REGISTRY_LOCK = threading.Lock()


def popen_options(platform: str | None = None) -> dict:
    """Extra ``subprocess.Popen`` keyword arguments for ``platform`` (``sys.platform`` by default).

    Windows: ``creationflags=CREATE_NO_WINDOW`` (no console window; the tree is stopped with psutil, not
    with console events). Elsewhere: ``start_new_session=True`` (the child leads its own process group, so
    a fallback stop reaches its children, and Ctrl+C in a terminal running Slicer does not hit it).
    """
    platform = sys.platform if platform is None else platform
    if platform.startswith("win"):
        return {"creationflags": CREATE_NO_WINDOW}
    return {"start_new_session": True}


def _psutil():
    try:
        import psutil

        return psutil
    except ImportError:
        return None


def stop_process_tree(pid: int, grace_s: float = 5.0, platform: str | None = None) -> bool:
    """Stop process ``pid`` and all its descendants: terminate (SIGTERM; on Windows TerminateProcess),
    wait up to ``grace_s`` seconds, then kill whatever is still alive.

    The descendants are listed before anything is terminated (once the parent is gone, its children are
    re-parented and can no longer be found through it). Never raises: a failure is logged and ``False``
    returned. Returns ``True`` when no process of the tree is left running.
    """
    platform = sys.platform if platform is None else platform
    try:
        psutil = _psutil()
        if psutil is None:
            return _stop_without_psutil(pid, grace_s, platform)
        try:
            parent = psutil.Process(pid)
            tree = parent.children(recursive=True) + [parent]
        except psutil.NoSuchProcess:
            return True
        if not platform.startswith("win"):
            _signal_group(pid, signal.SIGTERM)  # also reaches group members already re-parented
        for proc in tree:
            try:
                proc.terminate()
            except psutil.NoSuchProcess:
                pass
        alive = _wait_gone(psutil, tree, grace_s)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        if not platform.startswith("win"):
            _signal_group(pid, signal.SIGKILL)
        return not _wait_gone(psutil, alive, grace_s)
    except Exception as err:  # noqa: BLE001 - a stop must never raise into Slicer's GUI
        log.warning("REACTKD: could not stop process %s and its children: %s", pid, err)
        return False


def _wait_gone(psutil, procs: list, timeout: float) -> list:
    """The processes of ``procs`` still running after up to ``timeout`` seconds. A zombie counts as gone.
    Nothing is reaped here (``psutil.wait_procs`` would reap a direct child, and ``subprocess`` would then
    report exit code 0 for a process that was killed)."""
    end = time.monotonic() + timeout
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() >= end:
            return alive
        time.sleep(0.05)


def _signal_group(pid: int, sig) -> None:
    try:
        os.killpg(pid, sig)  # the child is a session leader: its process group id is its pid
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _stop_without_psutil(pid: int, grace_s: float, platform: str) -> bool:
    if platform.startswith("win"):
        # taskkill /T stops the tree, /F forcibly (Windows has no graceful stop for a windowless child)
        done = subprocess.run(["taskkill", "/PID", str(pid), "/T", "/F"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, creationflags=CREATE_NO_WINDOW, check=False)
        return done.returncode == 0
    _signal_group(pid, signal.SIGTERM)
    end = time.monotonic() + grace_s
    while time.monotonic() < end and _group_alive(pid):
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    return True


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
        return True
    except (ProcessLookupError, PermissionError, OSError):
        return False


class BackgroundProcess:
    """Start ``command`` now; its stdout and stderr are merged and split into lines.

    Args:
        command: the program and its arguments.
        env, cwd: as for ``subprocess.Popen``.
        stdin: ``True`` keeps a pipe open for :meth:`write_line` (the inference worker's requests); else
            the child reads nothing.

    Attributes:
        lines: every line read so far (kept for error reports).
        cancelled: :meth:`cancel` was called.
        pid: the child's process id.
    """

    def __init__(self, command: list[str], env: dict | None = None, cwd: str | None = None, stdin: bool = False):
        self.command = [str(c) for c in command]
        self.lines: list[str] = []
        self.cancelled = False
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, env=env, cwd=cwd,
                                      **popen_options())
        self.pid = self._proc.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        with _REGISTRY_LOCK:
            _REGISTRY.add(self)

    def _read(self) -> None:
        """Split output into lines. A progress bar (tqdm) redraws as ``\rtext`` with the separator first,
        so text after a ``\r`` is complete as soon as it arrives: it is passed on at once instead of
        waiting for the next redraw (which comes only when the epoch ends)."""
        buffer, after_cr = "", False
        stream = self._proc.stdout
        while True:
            try:
                chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
            except (OSError, ValueError):
                break
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
        """The exit code once the child has ended and all its output was read; ``None`` while running."""
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

    def write_line(self, text: str) -> None:
        """Send one line to the child's stdin (``stdin=True``).

        Raises:
            BrokenPipeError: the child has ended (or was started without ``stdin``).
        """
        if self._proc.stdin is None:
            raise BrokenPipeError("the process was started without stdin.")
        try:
            self._proc.stdin.write((text.rstrip("\n") + "\n").encode("utf-8"))
            self._proc.stdin.flush()
        except (OSError, ValueError) as err:
            raise BrokenPipeError(f"the process {self.pid} no longer reads its input ({err}).") from None

    def close_stdin(self) -> None:
        """End the child's input (a serving child takes this as its cue to exit). Never raises."""
        try:
            if self._proc.stdin is not None and not self._proc.stdin.closed:
                self._proc.stdin.close()
        except OSError:
            pass

    def cancel(self, grace_s: float = 5.0) -> None:
        """Stop the child and every process it started (see :func:`stop_process_tree`): terminate, then
        kill after ``grace_s`` seconds. Never raises; a failure is logged."""
        self.cancelled = True
        if self._proc.poll() is not None:
            return
        stop_process_tree(self._proc.pid, grace_s)
        try:
            self._proc.wait(grace_s)
            self._reader.join(grace_s)  # its output read to the end: ``running`` is False once cancel returns
        except Exception as err:  # noqa: BLE001 - never raise into Slicer
            log.warning("REACTKD: process %s did not end after being stopped: %s", self.pid, err)
        self.close_stdin()

    def wait(self, timeout: float | None = None, on_line=None, process_events=None) -> int:
        """Block until the process ends (scripts, tests); ``on_line(line)`` for each line.

        ``process_events``: called about every 50 ms while waiting (``slicer.app.processEvents`` inside
        Slicer, so the application keeps drawing and answering); ``None`` sleeps instead.

        Raises:
            TimeoutError: still running after ``timeout`` seconds (the process is cancelled first).
        """
        return wait_for(self, timeout, on_line, process_events)

    def __repr__(self) -> str:
        return f"BackgroundProcess(pid={self.pid}, returncode={self.returncode}, {sys.platform})"


def wait_for(job, timeout: float | None = None, on_line=None, process_events=None) -> int:
    """Wait for anything with ``poll()``, ``returncode`` and ``cancel()`` (a :class:`BackgroundProcess`
    or a worker job), forwarding new lines to ``on_line`` and calling ``process_events`` between polls.

    Raises:
        TimeoutError: still running after ``timeout`` seconds (the job is cancelled first).
    """
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        for line in job.poll():
            if on_line:
                on_line(line)
        code = job.returncode
        if code is not None:
            for line in job.poll():
                if on_line:
                    on_line(line)
            return code
        if end is not None and time.monotonic() > end:
            job.cancel()
            command = getattr(job, "command", None) or ["the job"]
            raise TimeoutError(f"{' '.join(command[:4])} … still running after {timeout} s; cancelled.")
        if process_events is not None:
            process_events()
        time.sleep(0.05 if process_events is None else 0.02)


def running_processes() -> list[BackgroundProcess]:
    """Every :class:`BackgroundProcess` of this Python process that is still running."""
    with _REGISTRY_LOCK:
        procs = list(_REGISTRY)
    return [p for p in procs if p._proc.poll() is None]


def stop_all(grace_s: float = 3.0) -> int:
    """Stop every running background process and its children (scene close, application exit).

    Returns how many were running. Never raises.
    """
    procs = running_processes()
    for proc in procs:
        try:
            proc.cancel(grace_s)
        except Exception as err:  # noqa: BLE001 - shutting down: log and go on with the others
            log.warning("REACTKD: could not stop %r: %s", proc, err)
    return len(procs)
