"""The background process: non-blocking line polling (tqdm's \\r redraws count as lines) and clean cancel."""

import os
import sys
import textwrap
import time

import pytest

from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.process import BackgroundProcess


def test_lines_are_polled_without_blocking_and_the_exit_code_kept():
    code = "import sys, time\nprint('start', flush=True)\nsys.stderr.write('bar 1/3\\rbar 2/3\\rbar 3/3\\n')\ntime.sleep(0.3)\nprint('end')\nsys.exit(3)"
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


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_cancel_stops_the_child_and_its_children(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    code = textwrap.dedent(f"""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(str(p.pid))
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = BackgroundProcess([sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    while "ready" not in proc.lines and time.monotonic() < deadline:
        proc.poll()
        time.sleep(0.05)
    t0 = time.monotonic()
    proc.cancel(grace_s=5)
    assert time.monotonic() - t0 < 5
    assert proc.wait(10) != 0 and proc.cancelled
    grandchild = int(pidfile.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):  # the DataLoader-worker case: nothing left holding the GPU
        for _ in range(50):
            os.kill(grandchild, 0)
            time.sleep(0.1)


def test_wait_timeout_cancels():
    proc = BackgroundProcess([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(TimeoutError, match="cancelled"):
        proc.wait(timeout=0.5)
    assert proc.cancelled and proc.wait(10) is not None
