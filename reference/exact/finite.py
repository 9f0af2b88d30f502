"""Central differences of an exact loss, precise enough to check an exact gradient.

A float64 difference quotient is good to 1e-9 at best; here the loss is exact
fixed-point arithmetic (reference.exact.fixed), so the step can be tiny and
the quotient far more precise than float64. At ``bits`` bits and step
h = 2^-s, s = bits/3:

    truncation ≈ h² |L'''| / 6        rounding ≈ 2^ERROR_BITS · 2^-bits / h

both about 2^(-2·bits/3) times the size of the loss. The precision grows until
that is below TARGET times the norm of the differences of one array (or below
FLOOR, far under float64's smallest subnormal, when the derivative is too small
to matter), so each array is within 1e-20 of the exact gradient relative to its
norm, and rounds to the same float64 values (or to a neighbour, when the exact
value sits on a rounding boundary).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable, Mapping

import numpy as np

from .fixed import ERROR_BITS, Fixed, Raw

TARGET = 1e-22
FLOOR_LOG2 = -1130          # 2^-1130 ≈ 1e-340: far below float64's smallest subnormal


def _plain(v):
    return v.tolist() if hasattr(v, "tolist") else v


def _entries(value, index=()):
    """(index, value) of every entry of a nested list (a bare number is one entry)."""
    if isinstance(value, (list, tuple)):
        for k, v in enumerate(value):
            yield from _entries(v, index + (k,))
    else:
        yield index, value


def _replaced(value, index, new):
    if not index:
        return new
    out = list(value)
    out[index[0]] = _replaced(value[index[0]], index[1:], new)
    return out


def _shaped(value, entries: dict, index=()):
    if isinstance(value, (list, tuple)):
        return [_shaped(v, entries, index + (k,)) for k, v in enumerate(value)]
    return entries[index]


def _log2_noise(bits: int, size: float, steps: int) -> float:
    """log2 of what a quotient may be off by: rounding of the loss over the step,
    and truncation with the third derivative of a sum over ``steps`` steps taken at
    a generous worst (10^6 · steps³ times the size of the loss)."""
    return -2 * bits / 3 + math.log2(2.0 ** ERROR_BITS + size * 1e6 * steps ** 3)


def _log2_size(q: Fraction) -> float:
    """log2|q| to within one (any Fraction, however small)."""
    return q.numerator.bit_length() - q.denominator.bit_length() if q else -math.inf


def central_differences(loss: Callable[[Mapping, Fixed], int], point: Mapping, names, *,
                        size: float, steps: int, fx: Fixed, target: float = TARGET) -> dict:
    """∂loss/∂point[name] for each of ``names``, entry by entry, as nested lists of
    Fractions (``to_float`` rounds them once).

    ``loss(values, fx)`` is the loss in units of 2^-fx.bits, computed exactly from
    the forward pass alone, at a dict like ``point`` (float64 leaves as numbers,
    arrays or nested lists; a moved entry arrives as a Raw int at ``fx``).
    ``size`` bounds Σ|terms of the loss| and ``steps`` is the sequence length;
    ``fx`` is where the precision starts; ``target`` the error allowed relative to
    the norm of each array."""
    base = {k: _plain(v) for k, v in point.items()}
    out = {}
    for name in names:
        entries = list(_entries(base[name]))
        work = fx
        while True:
            s = work.bits // 3
            step = 1 << (work.bits - s)                  # h = 2^-s
            quotients = {}
            for index, w in entries:
                w = work.of(w)
                high = loss({**base, name: _replaced(base[name], index, Raw(w + step))}, work)
                low = loss({**base, name: _replaced(base[name], index, Raw(w - step))}, work)
                quotients[index] = Fraction(high - low, 2 * step)      # both in units of 2^-bits
            # the largest entry stands for the norm (within a factor √count, counted in noise)
            largest = max(_log2_size(q) for q in quotients.values())
            noise = _log2_noise(work.bits, size, steps) + 0.5 * math.log2(len(entries)) + 1
            gap = noise - max(math.log2(target) + largest, FLOOR_LOG2)
            if gap <= 0:
                break
            # grow by what the gap asks for (a derivative lost in the noise shows as
            # |D| ≈ noise, and asks for 1.5·log2(1e22) more bits each round)
            work = Fixed(work.bits + int(math.ceil(1.5 * gap)) + 16)
        out[name] = _shaped(base[name], quotients)
    return out


def to_float(value):
    """Fractions (nested lists of them) rounded once to float64."""
    if isinstance(value, (list, tuple)):
        return np.array([to_float(v) for v in value], dtype=np.float64)
    return float(value)
