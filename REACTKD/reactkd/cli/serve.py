"""``reactkd serve``: a persistent grading process that loads a model once and runs ``reactkd predict``
requests read from stdin, one JSON object per line, so that each request after the first pays neither
the imports (torch, MONAI: seconds) nor loading the model.

Protocol (one line each, UTF-8):

- at start, after the model is loaded: ``{"ready": true, "device": "cpu", "members": 3, "metadata": {…}}``
  (``metadata``: the first fold student's checkpoint metadata, which the Slicer module checks inputs
  against without importing torch), or ``{"ready": false, "error": "…"}`` when the model cannot be
  loaded (each request then tries again and reports the error as its own);
- a request: ``{"id": "7", "args": ["--ct", "ct.nrrd", "--liver", "liver.nrrd", "--out", "out"]}``, the
  arguments of one ``reactkd predict`` (one case or ``--manifest``); ``--model`` and ``--device`` default
  to the served ones, ``--device auto`` is the served device;
- while it runs, the lines ``reactkd predict`` prints, then ``{"id": "7", "ok": true, "code": 0}`` or
  ``{"id": "7", "ok": false, "code": 2, "error": "one line"}`` with the exit code ``reactkd predict``
  would have returned (2: the input, 3: out of memory, 1: a failed case of a batch, or a bug).

Requests run one after another. The process ends at the end of its input. The loaded fold ensemble is
kept per model path and device, and reloaded when a checkpoint, calibration or training-domain file changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from pathlib import Path

import torch

from reactkd.cli import USER_ERRORS, is_out_of_memory, out_of_memory_advice
from reactkd.cli import predict as predict_command
from reactkd.cli.validate import inference_device
from reactkd.inference.ensemble import load_ensemble

__all__ = ["register", "run", "EnsembleCache", "handle_request", "resolve_served_device"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="grade requests read from stdin with a model loaded once",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a run folder or one student checkpoint (as for predict)")
    p.add_argument("--device", default="auto", help="auto (CUDA when torch sees a GPU), cpu, cuda or cuda:N")
    p.set_defaults(func=run)


def resolve_served_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; other values checked by ``inference_device``."""
    if device.strip().lower() == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return inference_device(device)


class EnsembleCache:
    """Loaded ensembles by (model path, device), reloaded when any of the model's files changes; holds at
    most ``size`` ensembles (the least recently used goes first)."""

    def __init__(self, size: int = 2):
        self.size = size
        self._items: dict[tuple, tuple] = {}

    @staticmethod
    def _signature(model: Path) -> tuple:
        files = [model] if model.is_file() else [
            *model.glob("fold*/student/best.pt"), *model.glob("fold*/calibration.json"), model / "training_domain.json"]
        return tuple(sorted((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file()))

    def load(self, model, device="cpu"):
        key = (str(Path(model).resolve()), str(device))
        signature = self._signature(Path(model))
        hit = self._items.pop(key, None)
        if hit is None or hit[0] != signature:
            hit = (signature, load_ensemble(model, device))
        self._items[key] = hit
        while len(self._items) > self.size:
            self._items.pop(next(iter(self._items)))
        return hit[1]


def _predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reactkd", add_help=False)
    predict_command.register(parser.add_subparsers(dest="command"))
    return parser


def _request_args(args: list[str], model: str, device: str) -> list[str]:
    args = [str(a) for a in args]
    if args[:1] == ["predict"]:
        args = args[1:]
    if "--model" not in args:
        args = ["--model", model, *args]
    if "--device" not in args:
        args += ["--device", device]
    else:
        i = args.index("--device") + 1
        if i < len(args) and args[i].strip().lower() == "auto":
            args[i] = device
    return args


def handle_request(request: dict, cache: EnsembleCache, model: str, device: str, parser=None) -> dict:
    """Run one request's ``reactkd predict`` in this process; returns the final reply (without printing it).

    Every failure becomes the reply's one-line ``error`` and the exit code ``reactkd predict`` would give;
    the same line is printed to stderr as the command prints it.
    """
    rid = request.get("id")
    parser = parser or _predict_parser()
    try:
        args = request.get("args")
        if not isinstance(args, list):
            raise ValueError('a request needs "args": the arguments of one `reactkd predict`.')
        try:
            namespace = parser.parse_args(["predict", *_request_args(args, model, device)])
        except SystemExit:
            raise ValueError(f"these are not `reactkd predict` arguments: {' '.join(map(str, args))}") from None
        code = int(predict_command.run(namespace, load=cache.load) or 0)
        return {"id": rid, "ok": code == 0, "code": code} | ({} if code == 0 else {"error": "some cases failed"})
    except USER_ERRORS as err:
        return _failure(rid, 2, str(err))
    except Exception as err:  # noqa: BLE001 - the boundary, as in `reactkd` itself
        if is_out_of_memory(err):
            return _failure(rid, 3, out_of_memory_advice(err, "predict"))
        traceback.print_exc()
        return _failure(rid, 1, f"internal error ({type(err).__name__}: {err}) — a bug in reactkd, not in your "
                                "input; please report it with the traceback above.")


def _failure(rid, code: int, message: str) -> dict:
    line = " ".join(message.split())
    print(f"reactkd predict: error: {line}", file=sys.stderr, flush=True)
    return {"id": rid, "ok": False, "code": code, "error": line}


def _reply(obj: dict) -> None:
    sys.stderr.flush()
    print(json.dumps(obj), flush=True)


def run(args: argparse.Namespace) -> int:
    device = resolve_served_device(args.device)
    cache = EnsembleCache()
    warnings.showwarning = lambda message, *_a, **_k: print(f"reactkd serve: warning: {message}", file=sys.stderr)
    try:
        ensemble = cache.load(args.model, device)
        _reply({"ready": True, "device": device, "members": len(ensemble.members),
                "metadata": ensemble.members[0].metadata})
    except USER_ERRORS as err:
        _reply({"ready": False, "device": device, "error": " ".join(str(err).split())})
    parser = _predict_parser()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            _reply({"id": None, "ok": False, "code": 2, "error": f"unreadable request ({err}): {line.strip()[:200]}"})
            continue
        _reply(handle_request(request, cache, args.model, device, parser))
    return 0
