"""Relational feature losses: cross-image pixel relations (CIRKD) and intra-image affinity (MS-CA)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cross_image_relation_loss", "affinity_alignment_loss", "sampled_affinity_alignment_loss"]


def _check_pair(student: torch.Tensor, teacher: torch.Tensor, same_width: bool) -> None:
    if student.ndim != 5 or teacher.ndim != 5 or student.shape[0] != teacher.shape[0]:
        raise ValueError(
            f"expected (B, C, d, h, w) maps with one B, got {tuple(student.shape)} and {tuple(teacher.shape)}."
        )
    if same_width and student.shape[1] != teacher.shape[1]:
        raise ValueError(
            f"project the student to the teacher's width first: {student.shape[1]} vs {teacher.shape[1]} channels."
        )


def cross_image_relation_loss(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float = 0.1, grid: int = 4
) -> torch.Tensor:
    """Pixel-to-pixel relations across all images of the batch, matched by a softened KL (CIRKD core).

    Both maps are pooled to ``grid`` per side and L2-normalised per position; with ``N = B·d·h·w``
    positions, each row of the ``(N, N)`` similarity matrix is turned into a distribution with
    temperature ``τ`` and the student's rows are matched to the teacher's:

    .. math:: \\mathcal{L} = \\tau^2\\,\\frac{1}{N}\\sum_i
        \\mathrm{KL}\\big(\\mathrm{softmax}(S^t_i/\\tau)\\,\\|\\,\\mathrm{softmax}(S^s_i/\\tau)\\big)

    Args:
        student: ``(B, C, d, h, w)`` student map projected to the teacher's width ``C``.
        teacher: ``(B, C, d', h', w')``.
        temperature: τ > 0. Default 0.1, a usual contrastive temperature (CIRKD tunes τ per dataset).
        grid: pooled side. Default 4 (64 positions per case).

    Returns:
        Scalar.

    Raises:
        ValueError: for mismatched batch sizes or widths, or ``temperature`` <= 0.

    References:
        Yang, Zhou, An, Hu, Xu, Zhang, Zhou, Xu. "Cross-Image Relational Knowledge Distillation for
        Semantic Segmentation". CVPR 2022.
    """
    _check_pair(student, teacher, same_width=True)
    if not temperature > 0:
        raise ValueError(f"`temperature` must be > 0, got {temperature!r}.")
    size = tuple(min(int(a), int(b), grid) for a, b in zip(student.shape[-3:], teacher.shape[-3:]))

    def positions(f: torch.Tensor) -> torch.Tensor:  # (B, C, d, h, w) → (B·d·h·w, C), unit rows
        return F.normalize(F.adaptive_avg_pool3d(f, size).flatten(2).transpose(1, 2).flatten(0, 1), dim=1)

    s, t = positions(student), positions(teacher.to(student.dtype))
    log_p = F.log_softmax(s @ s.T / temperature, dim=1)
    log_q = F.log_softmax(t @ t.T / temperature, dim=1)
    return (log_q.exp() * (log_q - log_p)).sum(1).mean() * temperature**2


def affinity_alignment_loss(student: torch.Tensor, teacher: torch.Tensor, grid: int = 6) -> torch.Tensor:
    """Mean squared difference of intra-image spatial affinity matrices (MS-CA core, one level).

    .. math:: A_{b,ij} = \\cos(f_{b,i}, f_{b,j}),\\quad \\mathcal{L} = \\mathrm{mean}(A^s - A^t)^2

    Each map is pooled to a common size (at most ``grid`` per side); widths may differ because each
    affinity is computed in its own feature space.

    Args:
        student: ``(B, Cs, d, h, w)``.
        teacher: ``(B, Ct, d', h', w')``.
        grid: largest pooled side. Default 6 (216 positions, a 216×216 affinity per case).

    Returns:
        Scalar in [0, 4].

    Raises:
        ValueError: for mismatched batch sizes.
    """
    _check_pair(student, teacher, same_width=False)
    size = tuple(min(int(a), int(b), grid) for a, b in zip(student.shape[-3:], teacher.shape[-3:]))
    s, t = (_affinity(F.adaptive_avg_pool3d(f, size).flatten(2)) for f in (student, teacher.to(student.dtype)))
    return (s - t).pow(2).mean()


def _affinity(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, N)`` features → ``(B, N, N)`` cosine similarities between positions."""
    x = F.normalize(x, dim=1)
    return x.transpose(1, 2) @ x


def sampled_affinity_alignment_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    num_positions: int = 256,
    sampling_weights: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Affinity alignment on a random subset of positions (MS-CA for dense, segmentation-size maps).

    Pooling a 48³ decoder map to a few positions per side would erase the fine structure that
    segmentation distillation is after, and the full ``N × N`` affinity of 110 592 positions does not
    fit in memory. Instead ``num_positions`` positions are drawn per case (the same ones for student and
    teacher) and the ``K × K`` cosine affinities are matched by mean squared error. Memory is
    O(B·K²) whatever the map size.

    Args:
        student: ``(B, Cs, d, h, w)``.
        teacher: ``(B, Ct, d, h, w)`` (same spatial size; widths may differ).
        num_positions: K, positions per case (all positions when the map has fewer). Default 256.
        sampling_weights: optional ``(B, 1, d, h, w)`` non-negative weights to draw positions with
            (e.g. class-balanced, so that small tumours are sampled); default uniform.
        generator: RNG for the draw (reproducible tests).

    Returns:
        Scalar in [0, 4].

    Raises:
        ValueError: mismatched batch or spatial sizes, ``num_positions`` < 2, or bad weights.
    """
    _check_pair(student, teacher, same_width=False)
    if student.shape[2:] != teacher.shape[2:]:
        raise ValueError(f"student and teacher maps need one spatial size, got {tuple(student.shape[2:])} and "
                         f"{tuple(teacher.shape[2:])}; resize first.")
    if num_positions < 2:
        raise ValueError(f"`num_positions` must be >= 2, got {num_positions}.")
    b, n = student.shape[0], student[0, 0].numel()
    k = min(int(num_positions), n)
    if sampling_weights is None:
        probs = torch.ones(b, n, device=student.device)
    else:
        if sampling_weights.shape != (b, 1, *student.shape[2:]) or bool((sampling_weights < 0).any()):
            raise ValueError(f"`sampling_weights` must be non-negative (B, 1, d, h, w) = {(b, 1, *student.shape[2:])}, "
                             f"got {tuple(sampling_weights.shape)}.")
        probs = sampling_weights.flatten(1).float() + 1e-12  # never all zero
    idx = torch.multinomial(probs.cpu(), k, replacement=False, generator=generator).to(student.device)  # (B, K)

    def gather(f: torch.Tensor) -> torch.Tensor:  # (B, C, d, h, w) → (B, C, K)
        flat = f.flatten(2)
        return flat.gather(2, idx[:, None, :].expand(-1, flat.shape[1], -1))

    s, t = _affinity(gather(student)), _affinity(gather(teacher.to(student.dtype)))
    return (s - t).pow(2).mean()
