"""Inference and main-job figures: predict time and memory per case (demo student at its 32³ grid, paper
student at 96³ in fp32 and bf16), and the demo's wall time."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ON_REQUEST = {"demo_wall_s"}

_PREDICT = r'''
import json, resource, sys, time
import torch
from reactkd.config import load_config
from reactkd.config.shipped import resolve_config_path
from reactkd.cohort import read_manifest
from reactkd.inference.predict import predict_case
from reactkd.models import Student
from reactkd.preprocess import PreprocessConfig
config = load_config(resolve_config_path(sys.argv[2]))
grid = int(sys.argv[3]) if len(sys.argv) > 3 else config.data.preprocess.get("grid_size", 32)
precision = sys.argv[4] if len(sys.argv) > 4 else "fp32"
student = Student(config.student).eval()
meta = {"preprocess": PreprocessConfig.from_dict({**config.data.preprocess, "grid_size": grid}).to_dict()}
records = read_manifest(sys.argv[1])
case = records[0].load()
predict_case(student, meta, case, precision=precision)  # warm-up: imports, allocator
times = []
for r in records[1:4]:
    c = r.load()
    t0 = time.perf_counter()
    predict_case(student, meta, c, precision=precision)
    times.append(time.perf_counter() - t0)
print(json.dumps({"predict_s": min(times),
                  "predict_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def _cohort(tmp: Path) -> Path:
    from reactkd.phantom.cohort import generate_cohort

    return generate_cohort(tmp / "cohort", n_patients=4, seed=11)


def _predict(*args: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        manifest = _cohort(Path(tmp))
        out = subprocess.run([sys.executable, "-c", _PREDICT, str(manifest), *args], capture_output=True, text=True,
                             check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def predict_figures() -> dict:
    """One phantom case (96×96×64 CT + 2 PETs) through preprocessing, the demo student and the topology
    map, in a fresh process (so the peak RSS is predict's own); model loading and imports excluded."""
    return _predict("demo-cpu")


def predict_96() -> dict:
    """As :func:`predict_figures` with the paper's student on a 96³ grid, in fp32 (the default policy:
    channels-last-3d) and in bf16 (``precision="bf16"``): the issue-18 target is ≤ 0.3 s per case."""
    fp32, bf16 = _predict("paper", "96", "fp32"), _predict("paper", "96", "bf16")
    return {"predict_96_s": fp32["predict_s"], "predict_96_bf16_s": bf16["predict_s"],
            "predict_96_peak_rss_mb": fp32["predict_peak_rss_mb"]}


def demo_wall_s() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "reactkd", "demo", "--out", str(Path(tmp) / "demo")], check=True,
                       capture_output=True)
        return time.perf_counter() - t0


def figures() -> dict:
    return {"predict_s,predict_peak_rss_mb": predict_figures,
            "predict_96_s,predict_96_bf16_s,predict_96_peak_rss_mb": predict_96, "demo_wall_s": demo_wall_s}
