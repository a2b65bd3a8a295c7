"""One persistent grading process per model: started on the first Apply, kept warm, restarted if it died.

``reactkd predict`` as a fresh process pays importing torch and MONAI (seconds) and loading the model on
every Apply. :class:`InferenceWorker` runs ``PythonSlicer -m reactkd serve --model M --device D`` once
(:mod:`reactkd.cli.serve`) and sends it each case as one JSON line on stdin; the child keeps the model
loaded and answers with the lines ``reactkd predict`` prints and a final JSON line. A submitted case is a
:class:`WorkerJob`, which behaves like :class:`~REACTKDLib.process.BackgroundProcess` (``poll``,
``running``, ``returncode``, ``lines``, ``cancelled``, ``cancel``, ``wait``), so the module's timer code is
the same for both.

Semantics:

- one job at a time per worker (:meth:`InferenceWorker.submit` refuses a second while one runs);
- cancelling a job stops the worker's whole process tree (a case cannot be interrupted inside the
  child without leaving it in an unknown state); the next submit starts a fresh worker (cold again);
- a worker that died on its own (crash, killed from outside) is restarted by the next submit, whose
  job's first line says so;
- :func:`worker_for` keeps one worker per (model, device); asking for another model stops the others
  (each warm model holds its memory), and :func:`stop_all_workers` stops every worker (model change,
  scene close, application exit). :func:`REACTKDLib.process.stop_all` also stops them.
"""

from __future__ import annotations

import itertools
import json
import logging

from REACTKDLib.commands import child_environment, reactkd_command
from REACTKDLib.process import BackgroundProcess, stop_all, wait_for

__all__ = ["InferenceWorker", "WorkerJob", "WorkerBusyError", "worker_for", "stop_all_workers", "stop_all_jobs",
           "serve_command"]

log = logging.getLogger("REACTKD")


class WorkerBusyError(RuntimeError):
    """A job was submitted to a worker that is still running another one."""


def serve_command(model: str, device: str = "auto") -> list[str]:
    """``[PythonSlicer, -m, reactkd, serve, --model, M, --device, D]``."""
    return reactkd_command("serve", "--model", str(model), "--device", device)


class WorkerJob:
    """One ``reactkd predict`` request running in an :class:`InferenceWorker`.

    The interface of :class:`~REACTKDLib.process.BackgroundProcess`:

    Attributes:
        lines: every line of this job so far (the final JSON reply is not a line; a failure's one-line
            error is, as ``reactkd predict: error: …``, so :func:`REACTKDLib.errors.explain_failure` reads
            it as it reads the command's output).
        cancelled: :meth:`cancel` was called.
        reply: the child's final JSON reply once it came (``{"id", "ok", "code", "error"?}``), else ``None``.
        command: ``["reactkd", "predict", *args]``, for messages.
    """

    def __init__(self, worker: InferenceWorker, job_id: str, args: list[str], first_lines: list[str] | None = None):
        self.worker, self.id, self.args = worker, job_id, list(args)
        self.command = ["reactkd", "predict", *self.args]
        self.lines: list[str] = []
        self.cancelled = False
        self.reply: dict | None = None
        self._code: int | None = None
        self._new: list[str] = list(first_lines or [])

    def _finish(self, code: int, line: str | None = None) -> None:
        if line:
            self._new.append(line)
        self._code = int(code)

    def poll(self) -> list[str]:
        """New lines since the last call (never blocks)."""
        self.worker._pump()
        new, self._new = self._new, []
        self.lines += new
        return new

    @property
    def returncode(self) -> int | None:
        """``None`` while running; 0 graded; else the code ``reactkd predict`` would have exited with
        (2 input, 3 out of memory, 1 failed cases or a bug), or the worker's own when it died or was stopped."""
        self.worker._pump()
        return self._code

    @property
    def running(self) -> bool:
        return self.returncode is None

    def cancel(self, grace_s: float = 3.0) -> None:
        """Stop the job by stopping the worker's process tree (the next submit starts a fresh worker).
        Never raises."""
        if self._code is not None:
            return
        self.cancelled = True
        self.worker._stop_process(grace_s)
        self.worker._pump()
        if self._code is None:
            self._finish(-15)

    def wait(self, timeout: float | None = None, on_line=None, process_events=None) -> int:
        """Block until the job ends; see :meth:`REACTKDLib.process.BackgroundProcess.wait`.

        Raises:
            TimeoutError: still running after ``timeout`` seconds (the job, and so the worker, is cancelled).
        """
        return wait_for(self, timeout, on_line, process_events)

    def __repr__(self) -> str:
        return f"WorkerJob(id={self.id}, returncode={self._code}, cancelled={self.cancelled})"


class InferenceWorker:
    """A ``reactkd serve`` child for one (model, device).

    Args:
        model: a run folder or a student checkpoint (as for ``reactkd predict --model``).
        device: ``auto`` (resolved by the child, which has torch: CUDA when it sees a GPU), ``cpu``,
            ``cuda`` or ``cuda:N``.
        command: the child's command line (tests); default :func:`serve_command`.
        env: the child's environment; default :func:`REACTKDLib.commands.child_environment`.

    Attributes:
        metadata: the model's checkpoint metadata as the child reported it once loaded (``None`` before).
        device_used: the device the child resolved (``None`` before it is ready).
        load_error: the child's one line when the model could not be loaded (each job then fails with it).
        lines: lines the child printed outside any job (start-up).
        restarts: how many times a dead child was replaced.
    """

    def __init__(self, model: str, device: str = "auto", command: list[str] | None = None, env: dict | None = None):
        self.model, self.device = str(model), device or "auto"
        self._command = list(command) if command else serve_command(self.model, self.device)
        self._env = env
        self._process: BackgroundProcess | None = None
        self._job: WorkerJob | None = None
        self._ids = itertools.count(1)
        self.metadata: dict | None = None
        self.device_used: str | None = None
        self.load_error: str | None = None
        self.lines: list[str] = []
        self.restarts = 0

    # -- the child -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the child now (a no-op while it runs). Loading begins at once, so calling this when the
        model is chosen makes the first Apply warm."""
        if self.alive:
            return
        self.metadata = self.device_used = self.load_error = None
        env = self._env if self._env is not None else child_environment(self.device)
        log.info("REACTKD: %s", " ".join(self._command))
        self._process = BackgroundProcess(self._command, env=env, stdin=True)

    @property
    def alive(self) -> bool:
        """The child is running."""
        return self._process is not None and self._process.returncode is None

    @property
    def ready(self) -> bool:
        """The child has loaded the model (after its start-up; see :attr:`metadata`)."""
        self._pump()
        return self.alive and self.metadata is not None

    @property
    def busy(self) -> bool:
        """A job is running."""
        self._pump()
        return self._job is not None and self._job._code is None

    def poll(self) -> list[str]:
        """Start-up lines printed outside any job since the last call (never blocks)."""
        before = len(self.lines)
        self._pump()
        return self.lines[before:]

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop the child and its process tree; a running job ends as cancelled. Never raises."""
        if self._job is not None and self._job._code is None:
            self._job.cancelled = True
        self._stop_process(grace_s)
        self._pump()

    def _stop_process(self, grace_s: float) -> None:
        if self._process is not None:
            self._process.close_stdin()
            self._process.cancel(grace_s)

    # -- jobs ------------------------------------------------------------------------------------------

    def submit(self, args: list[str]) -> WorkerJob:
        """Send one ``reactkd predict`` request (its arguments: ``--ct … --liver … --out …``, see
        :func:`REACTKDLib.commands.predict_args`; ``--model``/``--device`` default to the worker's) and
        return its job at once. Starts the child first when it is not running (after a death, the job's
        first line says so).

        Raises:
            WorkerBusyError: a job is still running on this worker.
        """
        if self.busy:
            raise WorkerBusyError("REACT-KD is still grading the previous case; wait for it or cancel it.")
        first = []
        if self._process is not None and not self.alive and not self._process.cancelled:
            code = self._process.returncode
            first.append(f"The grading process had stopped (exit code {code}); it was restarted (the model "
                         "loads again, so this case takes longer).")
            log.warning("REACTKD: %s", first[-1])
            self.restarts += 1
        self.start()
        job = WorkerJob(self, str(next(self._ids)), [str(a) for a in args], first)
        self._job = job
        try:
            self._process.write_line(json.dumps({"id": job.id, "args": job.args}))
        except BrokenPipeError as err:
            self._pump()
            if job._code is None:
                job._finish(1, f"The grading process stopped before it could take the case ({err}).")
        return job

    def _pump(self) -> None:
        """Move the child's new lines to the running job (or to :attr:`lines`); handle replies and death."""
        process = self._process
        if process is None:
            return
        for line in process.poll():
            reply = _reply(line)
            if reply is not None and "ready" in reply:
                self.device_used = reply.get("device")
                if reply.get("ready"):
                    self.metadata = reply.get("metadata") or {}
                else:
                    self.load_error = reply.get("error")
                continue
            job = self._job if self._job is not None and self._job._code is None else None
            if reply is not None and job is not None and reply.get("id") == job.id:
                job.reply = reply
                job._finish(int(reply.get("code", 0 if reply.get("ok") else 1)))
                continue
            if job is not None:
                job._new.append(line)
            else:
                self.lines.append(line)
        job = self._job
        if job is not None and job._code is None and process.returncode is not None:
            code = process.returncode
            if job.cancelled or process.cancelled:
                job.cancelled = True
                job._finish(code if code else -15)
            else:
                job._finish(code or 1, f"The grading process stopped unexpectedly (exit code {code}); press Apply "
                                       "again to restart it. The full output is in the log.")

    def __repr__(self) -> str:
        return f"InferenceWorker(model={self.model!r}, device={self.device!r}, alive={self.alive})"


def _reply(line: str) -> dict | None:
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and ("ready" in obj or ("id" in obj and "ok" in obj)) else None


_WORKERS: dict[tuple[str, str], InferenceWorker] = {}


def worker_for(model: str, device: str = "auto", keep_others: bool = False, command: list[str] | None = None
               ) -> InferenceWorker:
    """The worker for (``model``, ``device``), made on first use (not started: :meth:`InferenceWorker.submit`
    or :meth:`InferenceWorker.start` starts it). Unless ``keep_others``, workers of other models or
    devices are stopped: one warm model at a time."""
    key = (str(model), device or "auto")
    if not keep_others:
        for other in [k for k in _WORKERS if k != key]:
            _WORKERS.pop(other).stop()
    worker = _WORKERS.get(key)
    if worker is None:
        worker = _WORKERS[key] = InferenceWorker(key[0], key[1], command)
    return worker


def stop_all_workers() -> int:
    """Stop every worker made by :func:`worker_for` (model change, scene close, application exit);
    returns how many were running. Never raises."""
    running = 0
    for key in list(_WORKERS):
        worker = _WORKERS.pop(key)
        running += worker.alive
        try:
            worker.stop()
        except Exception as err:  # noqa: BLE001 - shutting down: log and go on
            log.warning("REACTKD: could not stop %r: %s", worker, err)
    return running


def stop_all_jobs() -> None:
    """Stop every inference worker and every background process (scene close, application exit). Never raises."""
    stop_all_workers()
    stop_all()
