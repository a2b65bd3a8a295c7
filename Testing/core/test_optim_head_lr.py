"""``optimizer.head_lr``: the grading head's parameters get their own learning rate, the schedule scales both."""

import pytest
import torch.nn as nn

from conftest import tiny_experiment
from reactkd.config.schema import OptimizerConfig, StageConfig
from reactkd.train.optim import build_optimizer, build_scheduler
from reactkd.utils.typed import ConfigError


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone, self.head = nn.Linear(3, 3), nn.Linear(3, 2)


def test_head_parameters_get_head_lr_and_the_rest_lr():
    net = _Net()
    stage = StageConfig(epochs=4, optimizer=OptimizerConfig(lr=1e-3, head_lr=1e-2, warmup_epochs=0))
    opt = build_optimizer(list(net.parameters()), stage, list(net.head.parameters()))
    lrs = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert all(lrs[id(p)] == 1e-2 for p in net.head.parameters())
    assert all(lrs[id(p)] == 1e-3 for p in net.backbone.parameters())
    sched = build_scheduler(opt, stage)
    opt.step(), sched.step()
    ratio = [g["lr"] for g in opt.param_groups]
    assert ratio[1] / ratio[0] == pytest.approx(10.0)  # the schedule keeps the ratio
    plain = build_optimizer(list(net.parameters()), StageConfig(), list(net.head.parameters()))
    assert len(plain.param_groups) == 1  # head_lr unset: one group, as before


def test_head_lr_must_be_positive():
    with pytest.raises(ConfigError, match=r"`stage2.optimizer.head_lr` must be null or > 0, got 0"):
        tiny_experiment("m.csv", stage2={"optimizer": {"head_lr": 0}})
