"""How the verdicts of a question's checks become points.

A formula is right or wrong. The checks that see ordinary inputs (symbolic
equivalence, ordinary numeric cases, finite differences) *decide*: unless
every one of them passes, the question earns nothing, whatever its other
checks say, because saturated and long-sequence cases are where a wrong term
can vanish and a wrong formula pass by coincidence. Those other checks score
the robustness of a formula already right. A check passes only when all its
cases pass. Partial credit exists only where the assignment declares it
(``partial_credit = true`` on a check): such a check scores the share of its
cases that pass, on its own.

Points are kept in integer hundredths (PRECISION decimals): a question's
points are split among its checks by largest remainder, so the shares, the
question scores and the total add up exactly as printed.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Sequence

PRECISION = 2
UNIT = 10 ** PRECISION


def to_units(points: float) -> int:
    return round(Fraction(points) * UNIT)


def to_points(units: int) -> float:
    return round(units / UNIT, PRECISION)


def split(points: float, weights: Sequence[float]) -> list[int]:
    """``points`` in hundredths, shared in proportion to ``weights``, summing exactly."""
    total = to_units(points)
    weights = [Fraction(w) for w in weights]
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    shares = [int(e) for e in exact]           # floor: the exact shares are non-negative
    by_remainder = sorted(range(len(exact)), key=lambda k: (-(exact[k] - shares[k]), k))
    for k in by_remainder[:total - sum(shares)]:
        shares[k] += 1
    return shares


def earned(share: int, fraction: float, passed: bool, partial: bool, right: bool) -> int:
    """Hundredths earned by one check of ``share`` hundredths."""
    if partial:
        return int(Fraction(share) * Fraction(fraction))   # a share of the cases, rounded down
    return share if (right and passed) else 0
