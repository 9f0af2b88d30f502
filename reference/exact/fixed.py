"""Exact fixed-point arithmetic on Python ints: the number X stands for X·2^-bits.

Why not mpf objects: a 1,000-step case of the vector homework needs about
three million multiply-adds (a forward pass, three backward sweeps, the error
scales), and mpf arithmetic (1-2 µs an operation in pure Python) takes several
seconds for them; an int operation takes a tenth of that. Here a product of
two numbers is exact and rounded once (to the nearest 2^-bits); a dot product
or a sum is added exactly and rounded once, so no result depends on the order
of a sum, and nothing depends on the CPU. exp comes from mpmath's fixed-point
kernel. Activations and their derivatives are formed without cancellation
(σ' = e/(1+e)² from e = exp(-|z|), tanh' = 4e/(1+e)² from e = exp(-2|z|)).

Every result carries an absolute error of at most 2^ERROR_BITS units (a
generous bound: each rounding adds under one unit, and a result collects at
most a few hundred thousand of them, none amplified by more than the size of
the weights and upstream gradients). ``to_float`` rounds once (int / int is
correctly rounded in CPython, subnormals included) and refuses a value that is
not CERTAIN_BITS above its error, unless it is certainly below half the
smallest subnormal; ``exactly`` then recomputes at a finer precision. So the
precision chosen up front (``for_bound``: what resolves e^-max|z|, as in
reference.symbolic.evaluate's rule) only decides the speed, never a result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, TypeVar

import numpy as np
from mpmath.libmp.libelefun import exp_fixed

ERROR_BITS = 64
CERTAIN_BITS = ERROR_BITS + 53 + 30      # 30 bits beyond float64's, above the error bound
LOG2_10 = 3.321928094887362

Result = TypeVar("Result")


class PrecisionError(ArithmeticError):
    """A result is too small for the working precision to fix its float64 rounding."""


class Raw(int):
    """An int already in units of 2^-bits (a leaf moved by a finite-difference step)."""


@dataclass(frozen=True)
class Fixed:
    bits: int
    one: int = field(init=False, repr=False)
    half: int = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "one", 1 << self.bits)
        object.__setattr__(self, "half", 1 << (self.bits - 1))

    @classmethod
    def for_digits(cls, digits: int) -> "Fixed":
        return cls(int(math.ceil(digits * LOG2_10)))

    @classmethod
    def for_bound(cls, bound: float) -> "Fixed":
        """The precision for pre-activations up to ``bound`` in size: a result as
        small as 2^-64·e^-bound (a derivative σ'(z) ≈ e^-|z| times a small factor)
        still certifies, without a recomputation."""
        return cls(CERTAIN_BITS + 64 + int(math.ceil(bound / math.log(2))))

    def finer(self) -> "Fixed":
        return Fixed(2 * self.bits)

    # -- conversion ----------------------------------------------------------------
    def of(self, v) -> int:
        """A float64 leaf, exactly (a float is a dyadic rational); a Raw int as it is;
        a Fraction with a power-of-two denominator (an exact result), exactly."""
        if isinstance(v, Raw):
            return int(v)
        if isinstance(v, Fraction):
            num, den = v.numerator, v.denominator
        else:
            num, den = float(v).as_integer_ratio()
        scaled, rest = divmod(num << self.bits, den)
        if rest:
            raise PrecisionError(f"{v!r} has bits below 2^-{self.bits}")
        return scaled

    def vector(self, v) -> list[int]:
        """A vector of leaves (an array, a list, or one number)."""
        v = v.tolist() if hasattr(v, "tolist") else v
        return [self.of(a) for a in v] if isinstance(v, (list, tuple)) else [self.of(v)]

    def matrix(self, W) -> list[list[int]]:
        W = W.tolist() if hasattr(W, "tolist") else W
        return [self.vector(row) for row in W] if isinstance(W, (list, tuple)) else [[self.of(W)]]

    def exact(self, X: int) -> Fraction:
        """X·2^-bits as a fraction, for comparisons beyond float64."""
        return Fraction(X, self.one)

    def to_float(self, X, certify: bool = True):
        """A number rounded once to float64; nested lists become a float64 array."""
        if isinstance(X, (list, tuple)):
            return np.array(_nested(X, lambda v: self.to_float(v, certify)), dtype=np.float64)
        if certify:
            self.certify(X)
        return X / self.one

    def certify(self, X: int) -> None:
        size = abs(X)
        if size >= 1 << CERTAIN_BITS:
            return
        zero_below = self.bits - 1076            # 2^-1076 is half the smallest subnormal
        if zero_below > ERROR_BITS and size + (1 << ERROR_BITS) < 1 << zero_below:
            return
        raise PrecisionError(f"a result of about {size}·2^-{self.bits} is not resolved")

    # -- arithmetic ------------------------------------------------------------------
    def round(self, v: int, shift: int | None = None) -> int:
        """v·2^-shift to the nearest int (shift = bits: the scale of one product)."""
        shift = self.bits if shift is None else shift
        return (v + (1 << (shift - 1))) >> shift

    def mul(self, a: int, b: int) -> int:
        return (a * b + self.half) >> self.bits

    def mul3(self, a: int, b: int, c: int) -> int:
        return self.round(a * b * c, 2 * self.bits)

    def dot(self, a, b) -> int:
        """Σ a_k b_k, exact, rounded once."""
        return (sum(map(int.__mul__, a, b)) + self.half) >> self.bits

    def div(self, a: int, b: int) -> int:
        """a / b for b > 0, rounded once."""
        return ((a << self.bits) + (b >> 1)) // b

    # -- activations -----------------------------------------------------------------
    def _exp_neg(self, y: int) -> int:
        """exp(-y) for y >= 0, with 16 extra working bits."""
        return exp_fixed(-(y << 16), self.bits + 16) >> 16

    def sigmoid(self, z: int) -> tuple[int, int]:
        """σ(z) and σ'(z) = σ(z)σ(-z) = e/(1+e)², e = exp(-|z|)."""
        e = self._exp_neg(abs(z))
        d = self.one + e
        s = self.div(self.one if z >= 0 else e, d)
        return s, ((e << 2 * self.bits) + (d * d >> 1)) // (d * d)

    def tanh(self, z: int) -> tuple[int, int]:
        """tanh(z) and tanh'(z) = 4e/(1+e)², e = exp(-2|z|)."""
        e = self._exp_neg(2 * abs(z))
        d = self.one + e
        t = self.div(self.one - e, d)
        return (t if z >= 0 else -t), ((4 * e << 2 * self.bits) + (d * d >> 1)) // (d * d)


def _nested(value, leaf):
    if isinstance(value, (list, tuple)):
        return [_nested(v, leaf) for v in value]
    return leaf(value)


def exactly(compute: Callable[[Fixed], Result], fx: Fixed) -> Result:
    """``compute(fx)``, recomputed at a finer precision while one of its roundings
    is not certain (a PrecisionError). Every loop at least doubles the bits, and at
    CERTAIN_BITS + 1076 + ERROR_BITS bits every value is resolved or certainly 0."""
    while True:
        try:
            return compute(fx)
        except PrecisionError:
            fx = fx.finer()
