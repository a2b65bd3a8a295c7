"""``stage2.deploy``: a CT-deployed student's best epoch is chosen with the PET withheld; by default it is
chosen with the PET as the cases have it."""

import pytest
import torch
import torch.nn as nn

from conftest import tiny_experiment
from reactkd.config.schema import Deployment
from reactkd.experiments.cross_validation import student_validator
from reactkd.models import ModelFeatures
from reactkd.train.runtime import Runtime


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
    ct = tiny_experiment("m.csv", stage2={"epochs": 1, "batch_size": 4, "deploy": "ct"})
    both = tiny_experiment("m.csv")
    assert ct.stage2.deploy is Deployment.CT and both.stage2.deploy is Deployment.PET_CT
    probe = _Probe()
    m_ct = student_validator(ct, _loader(), runtime)(probe)
    assert probe.seen[-1][:, 1].tolist() == [False] * 4 and probe.seen[-1][:, 0].all()
    m_both = student_validator(both, _loader(), runtime)(probe)
    assert probe.seen[-1] is None  # the inputs as the cases have them
    assert m_ct["loss"] != pytest.approx(m_both["loss"])  # the score selecting the epoch differs
