"""The persistent inference worker: the protocol with a stand-in child (jobs behave like background
processes, a dead child is restarted and the job says so, cancel stops the worker's tree, one job at a
time, one worker per model), and the real ``reactkd serve`` child grading a case warm."""

import json
import sys
import textwrap
import time

import pytest
from mrml_env import require_slicer

slicer = require_slicer()  # skips this module, with the reason, without slicer-core

from REACTKDLib.errors import explain_failure
from REACTKDLib.worker import InferenceWorker, WorkerBusyError, stop_all_workers, worker_for

psutil = pytest.importorskip("psutil")

# A stand-in for `reactkd serve`: the same protocol, no torch. "--die" ends the process, "--hang" starts a
# grandchild (a DataLoader worker, say) and never answers, "--bad" answers like a refused input.
STAND_IN = textwrap.dedent("""
    import json, subprocess, sys, time
    print(json.dumps({"ready": True, "device": "cpu", "members": 1, "metadata": {"kind": "student"}}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        args = request["args"]
        print("loading case", " ".join(args), flush=True)
        if "--die" in args:
            sys.exit(5)
        if "--hang" in args:
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            print("grandchild", child.pid, flush=True)
            time.sleep(120)
        if "--bad" in args:
            print("reactkd predict: error: CT: file not found: x.nrrd", file=sys.stderr, flush=True)
            print(json.dumps({"id": request["id"], "ok": False, "code": 2, "error": "CT: file not found"}), flush=True)
            continue
        print("grade 2", flush=True)
        print(json.dumps({"id": request["id"], "ok": True, "code": 0}), flush=True)
""")


@pytest.fixture
def stand_in(tmp_path):
    script = tmp_path / "serve.py"
    script.write_text(STAND_IN)
    return [sys.executable, str(script)]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_jobs_behave_like_background_processes(stand_in):
    worker = InferenceWorker("model", "cpu", command=stand_in)
    assert not worker.alive
    job = worker.submit(["--ct", "a.nrrd"])
    assert worker.alive
    seen = []
    assert job.wait(30, seen.append) == 0 and not job.running and not job.cancelled
    assert seen == ["loading case --ct a.nrrd", "grade 2"] == job.lines  # the JSON reply is not a line
    assert job.reply == {"id": job.id, "ok": True, "code": 0}
    assert worker.ready and worker.metadata == {"kind": "student"} and worker.device_used == "cpu"
    pid = worker._process.pid
    second = worker.submit(["--ct", "b.nrrd"])
    assert second.wait(30) == 0 and second.lines[-1] == "grade 2"
    assert worker._process.pid == pid, "a warm worker is reused, not restarted"
    bad = worker.submit(["--bad"])
    assert bad.wait(30) == 2 and "file not found" in explain_failure(bad.lines, bad.returncode)
    worker.stop()
    assert not worker.alive


def test_a_dead_worker_restarts_on_the_next_job_and_says_so(stand_in):
    worker = InferenceWorker("model", "cpu", command=stand_in)
    dying = worker.submit(["--die"])
    assert dying.wait(30) == 5
    assert "stopped unexpectedly (exit code 5)" in dying.lines[-1]
    assert "stopped unexpectedly" in explain_failure(dying.lines, dying.returncode)
    assert not worker.alive
    job = worker.submit(["--ct", "a.nrrd"])
    assert job.wait(30) == 0 and worker.restarts == 1
    assert job.lines[0].startswith("The grading process had stopped (exit code 5); it was restarted")
    worker.stop()


def test_cancel_stops_the_workers_tree_and_the_next_job_starts_a_fresh_one(stand_in):
    worker = InferenceWorker("model", "cpu", command=stand_in)
    job = worker.submit(["--hang"])
    deadline = time.monotonic() + 20
    while not any(line.startswith("grandchild") for line in job.lines) and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.05)
    grandchild = int(next(line for line in job.lines if line.startswith("grandchild")).split()[1])
    child = worker._process.pid
    with pytest.raises(WorkerBusyError):
        worker.submit(["--ct", "b.nrrd"])
    job.cancel()
    assert job.cancelled and job.returncode not in (None, 0)
    deadline = time.monotonic() + 10
    while not (_gone(child) and _gone(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child) and _gone(grandchild)
    assert explain_failure(job.lines, job.returncode, job.cancelled) == "Cancelled."
    again = worker.submit(["--ct", "b.nrrd"])
    assert again.wait(30) == 0 and worker.restarts == 0  # stopped on purpose: no "had stopped" line
    assert not again.lines[0].startswith("The grading process had stopped")
    worker.stop()


def test_one_worker_per_model_and_stop_all(stand_in):
    a = worker_for("model-a", "cpu", command=stand_in)
    assert worker_for("model-a", "cpu") is a
    a.start()
    assert a.alive
    b = worker_for("model-b", "cpu", command=stand_in)  # another model: the first one is stopped
    assert not a.alive and b is not a
    b.start()
    assert stop_all_workers() == 1 and not b.alive
    assert stop_all_workers() == 0


@pytest.mark.slow
def test_real_serve_grades_warm_and_refuses_bad_input(tiny_model, tmp_path, toy_case_images):
    """The real ``reactkd serve`` child: model metadata from the child, two cases graded by one process,
    the same outputs as ``reactkd predict``, and a bad input reported like the command's."""
    import SimpleITK as sitk

    from REACTKDLib.commands import predict_args
    from REACTKDLib.inference import read_prediction

    paths = {}
    for name in ("ct", "liver", "tumor"):
        paths[name] = tmp_path / f"{name}.nrrd"
        sitk.WriteImage(toy_case_images[name], str(paths[name]))
    worker = InferenceWorker(str(tiny_model), "cpu")
    try:
        first = worker.submit(predict_args(paths["ct"], paths["liver"], tmp_path / "out1", paths["tumor"]))
        assert first.wait(300) == 0, "\n".join(first.lines)
        pid = worker._process.pid
        second = worker.submit(predict_args(paths["ct"], paths["liver"], tmp_path / "out2", paths["tumor"]))
        assert second.wait(120) == 0, "\n".join(second.lines)
        assert worker._process.pid == pid and worker.metadata["kind"] == "student"
        one, _ = read_prediction(tmp_path / "out1")
        two, attention = read_prediction(tmp_path / "out2")
        assert one["probabilities"] == two["probabilities"] and attention.GetSize() == toy_case_images["ct"].GetSize()
        bad = worker.submit(predict_args(tmp_path / "missing.nrrd", paths["liver"], tmp_path / "out3"))
        assert bad.wait(120) == 2 and bad.reply["ok"] is False
        assert "missing.nrrd" in bad.reply["error"] and bad.lines[-1].startswith("reactkd predict: error:")
        assert json.loads(json.dumps(bad.reply))["code"] == 2 and worker.alive  # the worker survives a bad case
    finally:
        worker.stop()
