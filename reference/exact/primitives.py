"""Exact primitives on mpmath numbers (mpf), each activation returning its local
derivative beside its value; for engines that work in mpf (reference.exact.rnn).
The LSTM engine works in fixed point instead (reference.exact.fixed), for speed.

Everything runs at the caller's working precision. Near saturation
1 - σ(z) ≈ e^{-|z|}, so a derivative formed as σ(1 - σ) from a stored σ loses
|z|/ln 10 digits; here no derivative is ever formed by such a subtraction:
σ'(z) = σ(z)σ(-z) and tanh'(z) = (1 - |t|)(1 + |t|) with both small factors
computed directly from e^{-|z|}. That is why a fixed working precision
(``DPS``) serves |pre-activation| up to 1000 as well as ordinary points.
"""
from __future__ import annotations

from typing import Iterable

import mpmath
import numpy as np
from mpmath.libmp import (fone, from_man_exp, mpf_add, mpf_div, mpf_exp, mpf_lt, mpf_mul, mpf_neg, mpf_shift,
                          mpf_sub, mpf_tanh, round_nearest as R)

# 17 digits for float64, 30 guard digits against cancellation in sums, and 3
# more for the rounding errors that accumulate over 1,000 steps.
DPS = 50
ONE, ZERO = mpmath.mpf(1), mpmath.mpf(0)
_mpf = mpmath.mp.make_mpf


def exact(v) -> mpmath.mpf:
    """A float (or int, or mpf) as an mpf. A float converts without rounding at any
    working precision of 53 bits or more; an mpf is rounded to the working precision."""
    return mpmath.mpf(v)


def sigmoid(z):
    """σ(z) = 1/(1 + e^{-z}) and σ'(z) = σ(z)σ(-z).

    Both halves come from e = exp(-|z|): σ(|z|) = 1/(1 + e) and
    σ(-|z|) = e/(1 + e), so σ(-|z|) is never formed as 1 - σ(|z|).
    (On mpmath's raw numbers: this is an engine's second-innermost loop.)"""
    prec = mpmath.mp.prec
    negative, man, exp, bc = z._mpf_
    e = mpf_exp((1, man, exp, bc), prec, R)                  # exp(-|z|)
    big = mpf_div(fone, mpf_add(fone, e, prec, R), prec, R)  # σ(|z|)
    small = mpf_mul(e, big, prec, R)                         # σ(-|z|)
    return _mpf(small if negative else big), _mpf(mpf_mul(big, small, prec, R))


def tanh(z):
    """tanh(z) and tanh'(z) = (1 - |t|)(1 + |t|).

    1 - |t| is 1 - tanh|z| for |z| < 1 (|t| < 0.77: one digit lost at most) and
    2e/(1 + e) with e = exp(-2|z|) otherwise, so neither cancels."""
    prec = mpmath.mp.prec
    negative, man, exp, bc = z._mpf_
    a = (0, man, exp, bc)
    if mpf_lt(a, fone):
        t = mpf_tanh(a, prec, R)
        gap = mpf_sub(fone, t, prec, R)
    else:
        e = mpf_exp((1, man, exp + 1, bc), prec, R)              # exp(-2|z|)
        gap = mpf_shift(mpf_div(e, mpf_add(fone, e, prec, R), prec, R), 1)
        t = mpf_sub(fone, gap, prec, R)
    slope = mpf_mul(gap, mpf_add(fone, t, prec, R), prec, R)
    return _mpf(mpf_neg(t) if negative else t), _mpf(slope)


def dot(a: Iterable, b: Iterable):
    """Σ a_k b_k of mpf numbers, every product and the sum exact, rounded once to the
    working precision: the order of the terms cannot matter. (mpmath.fdot does the
    same with more checks; this is an engine's innermost loop.)"""
    acc, low = 0, None
    for x, y in zip(a, b):
        sx, mx, ex, _ = x._mpf_
        sy, my, ey, _ = y._mpf_
        if mx and my:
            e = ex + ey
            m = -mx * my if sx ^ sy else mx * my
            if low is None:
                acc, low = m, e
            elif e >= low:
                acc += m << (e - low)
            else:
                acc, low = (acc << (low - e)) + m, e
    if low is None:
        return ZERO
    return _mpf(from_man_exp(acc, low, mpmath.mp.prec, R))


def total(terms: Iterable):
    """Σ terms, added exactly and rounded once."""
    terms = list(terms)
    return dot(terms, [ONE] * len(terms))


def to_float(value):
    """float64 from an mpf, or a nested list/tuple of them as a float64 array,
    each entry rounded once (``float(mpf)`` rounds to nearest)."""
    if isinstance(value, (list, tuple)):
        return np.array(_floats(value), dtype=np.float64)
    return float(value)


def _floats(value):
    if isinstance(value, (list, tuple)):
        return [_floats(v) for v in value]
    return float(value)
