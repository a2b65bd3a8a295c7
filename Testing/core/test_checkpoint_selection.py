"""``stage.select_metric``: which epoch a stage keeps — the best validation AUC, the lowest validation loss,
or the last epoch — from scripted validation scores."""

import json

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from reactkd.config.schema import SelectMetric, StageConfig
from reactkd.train.checkpoint import load_checkpoint
from reactkd.train.loop import fit, selected
from reactkd.train.runtime import Runtime

# Per epoch: validation AUC peaks at epoch 2 (1-based), the loss is lowest at epoch 3.
SCRIPT = [{"auc": 0.60, "loss": 1.00}, {"auc": 0.80, "loss": 0.90}, {"auc": 0.70, "loss": 0.70},
          {"auc": 0.65, "loss": 0.80}]


class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(2, 3)

    def get_learnable_parameters(self):
        return list(self.parameters())

    def forward(self, batch):
        logits = self.net(batch["x"])
        return logits, {"loss_task": nn.functional.cross_entropy(logits, batch["label"])}


def _fit(tmp_path, metric):
    torch.manual_seed(0)
    module = _Linear()
    data = [{"x": torch.randn(2), "label": torch.tensor(i % 3)} for i in range(4)]
    loader = DataLoader(data, batch_size=2)
    scores = iter(SCRIPT)
    stage = StageConfig(epochs=len(SCRIPT), batch_size=2, select_metric=SelectMetric(metric))
    result = fit(module, lambda: module, loader, stage, Runtime.create("cpu"), tmp_path / metric, {"kind": "test"},
                 validate=lambda net: dict(next(scores)))
    return result, stage


@pytest.mark.parametrize("metric, epoch, shown", [("auc", 2, 0.80), ("loss", 3, 0.70), ("last", 4, None)])
def test_each_policy_keeps_its_epoch(tmp_path, metric, epoch, shown):
    result, stage = _fit(tmp_path, metric)
    assert result.best_epoch + 1 == epoch
    _, meta = load_checkpoint(result.best_path, "cpu")
    assert meta["epoch"] + 1 == epoch and meta["val_metrics"] == SCRIPT[epoch - 1]
    done = json.loads((tmp_path / metric / "done.json").read_text())
    if shown is None:
        assert result.best_metric != result.best_metric and selected(result, stage) == "last epoch 4 kept"
    else:
        assert result.best_metric == pytest.approx(shown) and done["best_metric"] == pytest.approx(shown)
        assert selected(result, stage) == f"best epoch {epoch}, val {metric} {shown:.3f}"


def test_select_metric_names_the_policies():
    assert [m.value for m in SelectMetric] == ["auc", "f1", "accuracy", "loss", "last"]
