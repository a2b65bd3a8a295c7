"""``student.deploy``: a CT-deployed student's best epoch is chosen with the PET withheld; old configs keep
selecting with the PET as the cases have it."""

import pytest
import torch
import torch.nn as nn

from reactkd.config import config_from_mapping, to_dict
from reactkd.config.identity import config_identity
from reactkd.experiments.cross_validation import student_validator
from reactkd.models import ModelFeatures
from reactkd.models.spec import Deployment
from reactkd.train.runtime import Runtime
from reactkd.utils.typed import ConfigError

from conftest import tiny_experiment


class _Probe(nn.Module):
    """Scores grade 3 when the PET is declared present, grade 1 otherwise; remembers the masks it saw."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def inputs(self, batch):
        return batch["ct"], batch.get("modality_mask"), None

    def forward_features(self, x, mask, roi_masks=None):
        self.seen.append(mask)
        pet = mask[:, 1] if mask is not None else torch.ones(x.shape[0], dtype=torch.bool)
        logits = torch.stack([(~pet).float(), torch.zeros(len(pet)), pet.float()], 1) * 5
        return ModelFeatures([], x, logits, logits)


def _loader():
    n = 4
    return [{"ct": torch.zeros(n, 1, 2, 2, 2), "pet": torch.ones(n, 2, 2, 2, 2),
             "pet_present": torch.ones(n, 2, dtype=torch.bool), "label": torch.tensor([2, 2, 0, 1]),
             "case_id": [f"c{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)]}]


def test_ct_deployed_student_is_validated_with_the_pet_withheld():
    runtime = Runtime.create("cpu")
    ct = tiny_experiment("m.csv", student={"init_filters": 8, "pet_channels": 2, "blocks_down": [1, 1, 1, 1], "deploy": "ct"})
    both = tiny_experiment("m.csv")
    assert ct.student.deploy is Deployment.CT and both.student.deploy is Deployment.PET_CT
    probe = _Probe()
    m_ct = student_validator(ct, _loader(), runtime)(probe)
    assert probe.seen[-1][:, 1].tolist() == [False] * 4 and probe.seen[-1][:, 0].all()
    m_both = student_validator(both, _loader(), runtime)(probe)
    assert probe.seen[-1] is None  # the inputs as the cases have them
    assert m_ct["loss"] != pytest.approx(m_both["loss"])  # the score selecting the epoch differs


def test_deploy_default_keeps_the_identity_of_older_configs():
    older = to_dict(tiny_experiment("m.csv"))
    del older["student"]["deploy"]
    explicit = {**older, "student": {**older["student"], "deploy": "pet_ct"}}
    assert config_identity(older) == config_identity(explicit)
    assert config_from_mapping(older).student.deploy is Deployment.PET_CT
    with pytest.raises(ConfigError, match=r"`student.deploy` must be one of \['pet_ct', 'ct'\], got 'mri'"):
        tiny_experiment("m.csv", student={"deploy": "mri"})
