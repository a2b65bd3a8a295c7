"""Modality dropout: never blanks everything, respects declared absence, explicit masks only."""

import pytest
import torch

from reactkd.cohort.modality import ModalityDropout, default_modality_mask


def _inputs(b=64):
    return torch.ones(b, 1, 2, 2, 2), torch.ones(b, 2, 2, 2, 2)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_never_blanks_every_input(p):
    torch.manual_seed(0)
    ct, pet = _inputs()
    present = torch.ones(64, 2, dtype=torch.bool)
    present[::3] = False  # some cases have no PET at all
    drop = ModalityDropout(p=p).train()
    for _ in range(20):
        ct2, pet2, mask = drop(ct, pet, present)
        assert mask.dtype == torch.bool and mask.shape == (64, 2)
        assert bool(mask.any(1).all())
        # what the mask says is what the tensors hold
        assert torch.equal(ct2.flatten(1).amax(1) > 0, mask[:, 0])
        assert torch.equal(pet2.flatten(1).amax(1) > 0, mask[:, 1])
        assert bool(mask[::3, 0].all()) and not bool(mask[::3, 1].any())  # CT of PET-less cases kept


def test_rate_and_split():
    torch.manual_seed(0)
    ct, pet = _inputs(4000)
    _, _, mask = ModalityDropout(p=0.3, pet_share=0.5).train()(ct, pet, torch.ones(4000, 2, dtype=torch.bool))
    dropped = (~mask.all(1)).float().mean().item()
    # measured 0.302 and 0.1475 (binomial sd at n = 4000: 0.007 and 0.006)
    assert dropped == pytest.approx(0.3, abs=0.006)
    assert (~mask[:, 1]).float().mean().item() == pytest.approx(0.15, abs=0.006)


def test_eval_mode_drops_nothing_and_explicit_mask_wins():
    ct, pet = _inputs(4)
    drop = ModalityDropout(p=1.0).eval()
    _, _, mask = drop(ct, pet, torch.ones(4, 2, dtype=torch.bool))
    assert bool(mask.all())
    declared = torch.tensor([[True, False], [False, True], [True, True], [True, False]])
    ct2, pet2, mask = drop(ct, pet, torch.ones(4, 2, dtype=torch.bool), modality_mask=declared)
    assert torch.equal(mask, declared) and float(ct2[1].abs().sum()) == 0 and float(pet2[0].abs().sum()) == 0


def test_absence_is_never_guessed_from_zeros():
    ct = torch.zeros(2, 1, 2, 2, 2)
    mask = default_modality_mask(ct, torch.tensor([[False, True], [False, False]]))
    assert mask.tolist() == [[True, True], [True, False]]
    assert default_modality_mask(ct).tolist() == [[True, False], [True, False]]


@pytest.mark.parametrize("kwargs", [{"p": -0.1}, {"p": 1.5}, {"pet_share": 2.0}])
def test_bad_probabilities(kwargs):
    with pytest.raises(ValueError, match="must be in \\[0, 1\\]"):
        ModalityDropout(**kwargs)


def test_bad_mask():
    ct, pet = _inputs(2)
    with pytest.raises(ValueError, match=r"\(2, 2\) bool"):
        ModalityDropout()(ct, pet, modality_mask=torch.ones(2, 2))
