"""Relational feature losses: cross-image pixel relations (CIRKD) and intra-image affinity (MS-CA).

MS-CA (ReCo-KD's multi-scale context alignment) matches, at several levels ``l``, the cosine affinity
between positions of the student's map to the teacher's:

.. math:: A_{b,ij} = \\cos(f_{b,i}, f_{b,j}),\\quad
    \\mathcal{L}_{CA} = \\sum_l \\alpha_l\\,\\mathrm{mean}(A^s_l - A^t_l)^2

on positions either pooled (:func:`affinity_alignment_loss`, small encoder maps of the classification
baseline :class:`~reactkd.distill.reco.MSCA`) or sampled (:func:`sampled_affinity_alignment_loss`, dense
segmentation maps, :mod:`reactkd.segment.distill`); :func:`ms_ca_loss` is the multi-scale sum both call.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from reactkd.losses.multiscale import resize_to, scale_sum

__all__ = ["cross_image_relation_loss", "affinity_alignment_loss", "sampled_affinity_alignment_loss", "ms_ca_loss"]


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


def ms_ca_loss(
    students: Sequence[torch.Tensor],
    teachers: Sequence[torch.Tensor],
    scale_weights: Sequence[float] | None = None,
    grid: int = 6,
    num_positions: int | None = None,
    sampling_weights: Sequence[torch.Tensor | None] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """MS-CA over levels (see module doc): ``Σ_l α_l`` affinity alignment of level ``l``.

    Args:
        students: per level ``(B, Cs_l, d_s, h_s, w_s)``.
        teachers: per level ``(B, Ct_l, d, h, w)`` (widths may differ from the student's).
        scale_weights: ``α_l`` as given; None = the plain mean over levels.
        grid: with ``num_positions`` None, every position of both maps pooled to at most ``grid`` per side
            (:func:`affinity_alignment_loss`). Default 6.
        num_positions: K positions sampled per case and level instead
            (:func:`sampled_affinity_alignment_loss`); the student map is first resized trilinearly to the
            teacher's size where it differs.
        sampling_weights: with ``num_positions``: per level ``(B, 1, d, h, w)`` weights to draw positions
            with, or None (uniform).
        generator: RNG for the draws (reproducible tests); default the global one.

    Returns:
        Scalar.

    Raises:
        ValueError: for lists of different lengths or an empty list, and what the per-level losses refuse.
    """
    if len(students) != len(teachers) or not students:
        raise ValueError(f"need one student and one teacher map per level, got {len(students)} and {len(teachers)}.")
    if num_positions is None:
        levels = [affinity_alignment_loss(s, t, grid) for s, t in zip(students, teachers)]
    else:
        weights = [None] * len(students) if sampling_weights is None else list(sampling_weights)
        if len(weights) != len(students):
            raise ValueError(f"`sampling_weights` has {len(weights)} entries for {len(students)} levels.")
        levels = [sampled_affinity_alignment_loss(resize_to(s, t.shape[-3:]), t, num_positions, w, generator)
                  for s, t, w in zip(students, teachers, weights)]
    return scale_sum(levels, scale_weights)
