"""Several processes through torchrun (DDP) on the CPU with the gloo backend."""

import csv
import os
import subprocess
import sys

import pytest
import yaml

from conftest import tiny_experiment
from reactkd.config import to_dict

pytestmark = pytest.mark.slow


def test_torchrun_two_gloo_processes(tmp_path):
    from reactkd.cohort.phantom import generate_cohort

    manifest = generate_cohort(tmp_path / "cohort", n_patients=8, seed=5, size=(48, 48, 32))
    config = to_dict(tiny_experiment(manifest, stage1={"epochs": 1, "batch_size": 2},
                                     stage2={"epochs": 1, "batch_size": 2}))
    config["data"]["augment"], config["name"] = False, "ddp"
    (tmp_path / "ddp.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
           "-m", "reactkd", "train", "--config", str(tmp_path / "ddp.yaml"), "--out", str(tmp_path / "run"),
           "--no-report"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for k in (0, 1):
        rows = list(csv.DictReader(open(tmp_path / "run" / f"fold{k}" / "student" / "metrics.csv")))
        assert [r["epoch"] for r in rows] == ["1"]  # written once, by rank 0
        assert (tmp_path / "run" / f"fold{k}" / "predictions.csv").is_file()
