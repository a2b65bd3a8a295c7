"""The background process: non-blocking line polling (tqdm's \\r redraws count as lines), waits that keep
drawing, and cancel that stops the whole process tree on every OS (Windows with the platform monkeypatched)."""

import io
import sys
import textwrap
import time

import pytest
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.process import (
    CREATE_NO_WINDOW,
    BackgroundProcess,
    popen_options,
    running_processes,
    stop_all,
    stop_process_tree,
)


def test_lines_are_polled_without_blocking_and_the_exit_code_kept():
    code = ("import sys, time\nprint('start', flush=True)\nsys.stderr.write('bar 1/3\\rbar 2/3\\rbar 3/3\\n')\n"
            "time.sleep(0.3)\nprint('end')\nsys.exit(3)")
    proc = BackgroundProcess([sys.executable, "-c", code])
    t0 = time.monotonic()
    first = proc.poll()
    assert time.monotonic() - t0 < 0.1 and proc.running  # poll never waits
    seen = list(first)
    assert proc.wait(30, seen.append) == 3
    assert seen == ["start", "bar 1/3", "bar 2/3", "bar 3/3", "end"]
    assert proc.lines == seen


def test_a_progress_redraw_arrives_before_the_next_one():
    """tqdm writes ``\rbar`` (separator first): the bar must reach the GUI now, not at the next redraw."""
    code = "import sys, time\nsys.stderr.write('\\rfold 0 teacher 1/4: 0%'); sys.stderr.flush()\ntime.sleep(30)"
    proc = BackgroundProcess([sys.executable, "-c", code])
    deadline = time.monotonic() + 15
    while not proc.lines and time.monotonic() < deadline:
        proc.poll()
        time.sleep(0.05)
    assert proc.lines == ["fold 0 teacher 1/4: 0%"] and proc.running
    proc.cancel()


def test_wait_timeout_cancels():
    proc = BackgroundProcess([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(TimeoutError, match="cancelled"):
        proc.wait(timeout=0.5)
    assert proc.cancelled and proc.wait(10) is not None


def test_a_cancelled_process_is_not_running_once_cancel_returns():
    code = "while True:\n    print('x' * 200, flush=True)"  # the pipe stays full: output is left to read
    proc = BackgroundProcess([sys.executable, "-c", code])
    put = proc._queue.put
    proc._queue.put = lambda line: (time.sleep(0.002), put(line))  # a reader that lags, as on a loaded machine
    time.sleep(0.3)
    proc.cancel()
    assert not proc.running and proc.returncode is not None  # its output read to the end, at once


def test_wait_draws_between_polls():
    """A scripted wait keeps the application drawing: ``process_events`` runs while the child works."""
    calls = []
    proc = BackgroundProcess([sys.executable, "-c", "import time; time.sleep(0.5); print('done')"])
    assert proc.wait(30, process_events=lambda: calls.append(1)) == 0
    assert len(calls) >= 5 and proc.lines == ["done"]


# -- the process tree --------------------------------------------------------------------------------

psutil = pytest.importorskip("psutil")


def _gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for its (new) parent to reap it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _launcher(tmp_path, own_session: bool) -> tuple[BackgroundProcess, int]:
    """A launcher-like pair, as ``PythonSlicer`` → ``python-real``: a Python parent that starts the real
    Python as its child and waits for it. With ``own_session`` the grandchild leaves the parent's process
    group, so only a walk of the process tree can find it."""
    pidfile = tmp_path / "real.pid"
    code = textwrap.dedent(f"""
        import subprocess, sys, time
        real = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                start_new_session={own_session})
        open({str(pidfile)!r}, "w").write(str(real.pid))
        print("ready", flush=True)
        real.wait()
    """)
    proc = BackgroundProcess([sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    while "ready" not in proc.lines and time.monotonic() < deadline:
        proc.poll()
        time.sleep(0.05)
    assert "ready" in proc.lines, proc.lines
    return proc, int(pidfile.read_text())


@pytest.mark.skipif(sys.platform.startswith("win"), reason="the POSIX launcher pair")
@pytest.mark.parametrize("own_session", [False, True], ids=["same-group", "own-session"])
def test_cancel_stops_the_launcher_and_the_real_interpreter(tmp_path, own_session):
    proc, real = _launcher(tmp_path, own_session)
    assert psutil.pid_exists(proc.pid) and psutil.pid_exists(real)
    t0 = time.monotonic()
    proc.cancel(grace_s=5)
    assert time.monotonic() - t0 < 6
    assert proc.wait(10) != 0 and proc.cancelled
    deadline = time.monotonic() + 10
    while not (_gone(real) and _gone(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(proc.pid) and _gone(real), "a process of the tree outlived cancel"


def test_stop_all_stops_every_running_job(tmp_path):
    first, real = _launcher(tmp_path, own_session=True)
    second = BackgroundProcess([sys.executable, "-c", "import time; time.sleep(120)"])
    assert {first, second} <= set(running_processes())
    assert stop_all(grace_s=3) >= 2
    assert first.wait(10) is not None and second.wait(10) is not None
    deadline = time.monotonic() + 10
    while not _gone(real) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(real) and first not in running_processes() and second not in running_processes()
    assert stop_all() == 0  # nothing left; never raises


# -- Windows, with the platform monkeypatched ----------------------------------------------------------


class _FakeProc:
    """A psutil.Process stand-in that records what was done to it."""

    def __init__(self, pid, log, survives_terminate=False):
        self.pid, self.log, self.survives = pid, log, survives_terminate

    def children(self, recursive=False):
        return [_FakeProc(self.pid + 1, self.log, survives_terminate=True)] if recursive else []

    def terminate(self):
        self.log.append(("terminate", self.pid))

    def kill(self):
        self.log.append(("kill", self.pid))

    def is_running(self):
        return self.survives and ("kill", self.pid) not in self.log

    def status(self):
        return "sleeping"


class _FakePsutil:
    NoSuchProcess, STATUS_ZOMBIE = psutil.NoSuchProcess, psutil.STATUS_ZOMBIE

    def __init__(self):
        self.log = []

    def Process(self, pid):  # noqa: N802 - psutil's name
        return _FakeProc(pid, self.log)


def test_windows_runs_without_a_console_window_and_stops_the_tree_with_psutil(monkeypatch):
    import REACTKDLib.process as process

    assert popen_options("win32") == {"creationflags": CREATE_NO_WINDOW} and CREATE_NO_WINDOW == 0x08000000
    assert popen_options("linux") == {"start_new_session": True}
    started = {}

    class FakePopen:
        def __init__(self, command, **kwargs):
            started.update(kwargs)
            self.pid, self.stdout, self.stdin = 4242, io.BytesIO(b"line\n"), None
            self.signals = []

        def poll(self):
            return None if not started.get("stopped") else 1

        def wait(self, timeout=None):
            started["stopped"] = True  # from now on poll() says ended: stop_all() of later tests skips it
            return 1

        def send_signal(self, sig):  # CTRL_BREAK_EVENT would come through here
            self.signals.append(sig)

    fake = _FakePsutil()
    monkeypatch.setattr(process.sys, "platform", "win32")
    monkeypatch.setattr(process.subprocess, "Popen", FakePopen)
    monkeypatch.setattr(process, "_psutil", lambda: fake)
    monkeypatch.setattr(process.os, "killpg", lambda *a: pytest.fail("POSIX signals on Windows"), raising=False)
    proc = BackgroundProcess(["PythonSlicer", "-m", "reactkd"])
    assert started["creationflags"] & CREATE_NO_WINDOW and "start_new_session" not in started
    proc.cancel(grace_s=0.1)
    assert proc.cancelled and proc._proc.signals == []
    # the launcher and the real interpreter are both asked to end; the one that stays is killed
    assert ("terminate", 4242) in fake.log and ("terminate", 4243) in fake.log
    assert ("kill", 4243) in fake.log and ("kill", 4242) not in fake.log
    assert fake.log.index(("terminate", 4243)) < fake.log.index(("kill", 4243))


def test_a_failing_stop_is_logged_not_raised(monkeypatch, caplog):
    import REACTKDLib.process as process

    class Broken:
        NoSuchProcess = psutil.NoSuchProcess

        def Process(self, pid):  # noqa: N802
            raise psutil.AccessDenied(pid)

    monkeypatch.setattr(process, "_psutil", lambda: Broken())
    with caplog.at_level("WARNING", logger="REACTKD"):
        assert stop_process_tree(999_999_999, 0.1, platform="win32") is False
    assert "could not stop process" in caplog.text
