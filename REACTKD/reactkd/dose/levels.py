"""Named dose levels, numeric dose fractions, and the ``mixed`` cohort assignment.

Levels follow the dose-robustness protocol of the evaluation (native, mild, severe, mixed). The
fractions are the conventional half- and quarter-dose settings of low-dose CT studies; the quarter dose
is that of the AAPM-Mayo Low Dose CT Grand Challenge [1].

References:
    [1] McCollough CH, et al. "Low-dose CT for the detection and classification of metastatic liver
        lesions: results of the 2016 Low Dose CT Grand Challenge." Med Phys 44(10):e339-e352, 2017.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from enum import Enum

__all__ = ["DoseLevel", "resolve_dose", "dose_tag", "assign_mixed_cohort", "MIXED_SHARE"]

MIXED_SHARE = 0.5
"""Default share of cases degraded in a ``mixed`` cohort; degraded cases split evenly mild/severe."""


class DoseLevel(str, Enum):
    """A named dose level; :attr:`fraction` is the dose relative to the acquired scan.

    - ``NATIVE``: 1.0, the scan as acquired (nothing is simulated).
    - ``MILD``: 0.5, half dose (noise std x sqrt(2) in the quantum-limited regime).
    - ``SEVERE``: 0.25, quarter dose (noise std x 2), as in the AAPM-Mayo challenge [1].
    """

    NATIVE = "native"
    MILD = "mild"
    SEVERE = "severe"

    @property
    def fraction(self) -> float:
        return _FRACTIONS[self]


_FRACTIONS = {DoseLevel.NATIVE: 1.0, DoseLevel.MILD: 0.5, DoseLevel.SEVERE: 0.25}


def resolve_dose(dose: DoseLevel | str | float) -> float:
    """Turn a level name, a :class:`DoseLevel` or a number into a dose fraction in ``(0, 1]``.

    Args:
        dose: ``"native"``, ``"mild"``, ``"severe"`` (any case), a :class:`DoseLevel`, a number, or a
            numeric string such as ``"0.3"``.

    Returns:
        The fraction of the acquired dose, ``0 < k <= 1``.

    Raises:
        TypeError: if ``dose`` is not a level, string or real number (booleans are refused).
        ValueError: if the name is unknown or the number is not in ``(0, 1]``.
    """
    if isinstance(dose, DoseLevel):
        return dose.fraction
    if isinstance(dose, str):
        text = dose.strip().lower()
        if text in _FRACTIONS_BY_NAME:
            return _FRACTIONS_BY_NAME[text]
        try:
            value = float(text)
        except ValueError:
            names = ", ".join(repr(level.value) for level in DoseLevel)
            raise ValueError(
                f"`dose` must be one of {names} or a fraction in (0, 1], got {dose!r}."
            ) from None
    elif isinstance(dose, (int, float)) and not isinstance(dose, bool):
        value = float(dose)
    else:
        raise TypeError(f"`dose` must be a DoseLevel, a level name or a number, got {type(dose).__name__}.")
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"`dose` fraction must be in (0, 1] (1 = acquired dose), got {dose!r}.")
    return value


_FRACTIONS_BY_NAME = {level.value: level.fraction for level in DoseLevel}


def dose_tag(dose: DoseLevel | str | float) -> str:
    """A file-name-safe label of the fraction: the level name when it equals a named level's fraction
    (so ``0.5`` and ``"mild"`` share a cache entry), else ``"dose0.3"``-style."""
    fraction = resolve_dose(dose)
    for level in DoseLevel:
        if level.fraction == fraction:
            return level.value
    return f"dose{fraction:.6g}"


def _unit_hash(*parts: object) -> float:
    """A uniform number in [0, 1) from ``parts``, identical across runs and platforms (unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign_mixed_cohort(
    case_ids: Sequence[str],
    seed: int,
    share: float = MIXED_SHARE,
    levels: Sequence[DoseLevel | str] = (DoseLevel.MILD, DoseLevel.SEVERE),
) -> dict[str, DoseLevel]:
    """Decide, for a ``mixed`` cohort, which cases are degraded and at which level.

    Cases are ranked by a keyed hash of ``(seed, case id)``; the first ``round(share * n)`` are
    degraded and dealt to ``levels`` in turn (so they split evenly), the rest stay ``NATIVE``. The
    result depends only on the set of ids and the seed, not on their order.

    Args:
        case_ids: unique case identifiers.
        seed: integer seed; a different seed gives a different, equally balanced draw.
        share: fraction of cases degraded, in ``[0, 1]``; default :data:`MIXED_SHARE` (0.5).
        levels: degraded levels to deal out; default mild then severe.

    Returns:
        ``{case_id: DoseLevel}`` for every id.

    Raises:
        ValueError: for duplicate ids, ``share`` outside ``[0, 1]``, or empty/unknown ``levels``.
        TypeError: if ``seed`` is not an integer.

    Example:
        >>> plan = assign_mixed_cohort(["a", "b", "c", "d"], seed=0)
        >>> sorted(v.value for v in plan.values())
        ['mild', 'native', 'native', 'severe']
    """
    ids = [str(c) for c in case_ids]
    if len(set(ids)) != len(ids):
        dupes = sorted({c for c in ids if ids.count(c) > 1})
        raise ValueError(f"`case_ids` must be unique, got duplicates {dupes}.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__}.")
    if not (isinstance(share, (int, float)) and 0.0 <= share <= 1.0):
        raise ValueError(f"`share` must be in [0, 1], got {share!r}.")
    if not levels:
        raise ValueError("`levels` must name at least one degraded level, got none.")
    chosen = [DoseLevel(level) if not isinstance(level, DoseLevel) else level for level in levels]
    ranked = sorted(ids, key=lambda c: (_unit_hash("mixed", seed, c), c))
    n_degraded = round(share * len(ids))
    plan = {c: DoseLevel.NATIVE for c in ids}
    for i, case in enumerate(ranked[:n_degraded]):
        plan[case] = chosen[i % len(chosen)]
    return plan
