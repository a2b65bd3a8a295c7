"""Modality dropout for CT(+PET) students, with the present modalities declared by an explicit mask."""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["ModalityDropout", "default_modality_mask", "check_modality_mask"]


def check_modality_mask(modality_mask: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Validate a ``(B, 2)`` bool ``[ct_present, pet_present]`` mask.

    Raises:
        ValueError: for a wrong shape or dtype, or a row with no modality.
    """
    if modality_mask.shape != (batch_size, 2) or modality_mask.dtype != torch.bool:
        raise ValueError(
            f"`modality_mask` must be a ({batch_size}, 2) bool tensor [ct_present, pet_present], "
            f"got {tuple(modality_mask.shape)} {modality_mask.dtype}."
        )
    if not bool(modality_mask.any(1).all()):
        raise ValueError("`modality_mask` declares a case with no modality at all; at least one must be present.")
    return modality_mask


def default_modality_mask(ct: torch.Tensor, pet_present: torch.Tensor | None = None) -> torch.Tensor:
    """``[True, any tracer present]`` per case, from the data layer's ``pet_present`` ``(B, P)`` flags.

    Without ``pet_present`` the PET is declared absent: presence is never inferred from voxel values.
    """
    b = ct.shape[0]
    if pet_present is None:
        pet = torch.zeros(b, dtype=torch.bool, device=ct.device)
    else:
        pet = pet_present.to(ct.device).bool().any(1)
    return torch.stack([torch.ones(b, dtype=torch.bool, device=ct.device), pet], dim=1)


class ModalityDropout(nn.Module):
    """Per case, with probability ``p``, blank the PET or the CT, never both and never a case's only modality.

    In training mode a case that has both modalities is selected with probability ``p``; a selected case
    loses its PET with probability ``pet_share``, otherwise its CT. A case with no PET is never touched
    (blanking its CT would blank everything). In eval mode nothing is dropped. Blanked and declared-absent
    modalities are set to zero *and* reported in the returned mask, which the student consumes; the model
    therefore never has to guess absence from zeros.

    Args:
        p: probability of dropping one modality of a two-modality case, in [0, 1]. Default 0.3: large enough
            that the CT pathway is trained alone in about one step in seven, small enough that the
            PET-assisted pathway still sees most cases (the usual 0.2–0.5 range of modality-dropout work,
            e.g. Neverova et al. 2016 "ModDrop").
        pet_share: of the dropped cases, the fraction that lose the PET rather than the CT, in [0, 1].
            Default 0.5.

    Raises:
        ValueError: if ``p`` or ``pet_share`` is outside [0, 1].

    Example:
        >>> drop = ModalityDropout(p=1.0).train()
        >>> present = torch.ones(4, 2, dtype=torch.bool)
        >>> ct, pet, mask = drop(torch.ones(4, 1, 8, 8, 8), torch.ones(4, 2, 8, 8, 8), present)
        >>> bool(mask.any(1).all()) and not bool(mask.all(1).any())
        True
    """

    def __init__(self, p: float = 0.3, pet_share: float = 0.5) -> None:
        super().__init__()
        for name, value in (("p", p), ("pet_share", pet_share)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"`{name}` must be in [0, 1], got {value!r}.")
        self.p = float(p)
        self.pet_share = float(pet_share)

    def forward(
        self,
        ct: torch.Tensor,
        pet: torch.Tensor,
        pet_present: torch.Tensor | None = None,
        modality_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Apply the dropout.

        Args:
            ct: ``(B, 1, D, H, W)``.
            pet: ``(B, P, D, H, W)``, tracers in fixed order.
            pet_present: ``(B, P)`` bool, which tracers exist; used when ``modality_mask`` is None.
            modality_mask: ``(B, 2)`` bool ``[ct_present, pet_present]`` declared by the caller; overrides
                ``pet_present``.

        Returns:
            ``(ct, pet, modality_mask)`` with absent modalities zeroed and the ``(B, 2)`` bool mask.

        Raises:
            ValueError: for mismatched batch sizes or an invalid ``modality_mask``.
        """
        if ct.shape[0] != pet.shape[0]:
            raise ValueError(f"`ct` {tuple(ct.shape)} and `pet` {tuple(pet.shape)} differ in batch size.")
        mask = default_modality_mask(ct, pet_present) if modality_mask is None else modality_mask.to(ct.device)
        mask = check_modality_mask(mask, ct.shape[0]).clone()
        if self.training and self.p > 0:
            both = mask.all(1)
            chosen = both & (torch.rand(mask.shape[0], device=ct.device) < self.p)
            drop_pet = torch.rand(mask.shape[0], device=ct.device) < self.pet_share
            mask[:, 1] &= ~(chosen & drop_pet)
            mask[:, 0] &= ~(chosen & ~drop_pet)
        view = (-1, 1, 1, 1, 1)
        return ct * mask[:, 0].view(view).to(ct.dtype), pet * mask[:, 1].view(view).to(pet.dtype), mask
