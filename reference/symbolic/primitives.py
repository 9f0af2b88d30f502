"""The few primitives every cell is built from, each with its derivative beside its forward rule.

SymPy already knows tanh (d/dz tanh z = 1 - tanh² z), exp and products; the
logistic sigmoid is the one activation it lacks, so it is defined here as a
real SymPy function whose derivative is written in terms of its own value,
σ' = σ(1 - σ). Keeping σ as an atom (instead of 1/(1+e^{-z})) is what keeps
derived gradients in the homework's vocabulary: y_t(1 - y_t), not a tower of
exponentials.
"""
from __future__ import annotations

import mpmath
import sympy as sp


class sigmoid(sp.Function):  # noqa: N801 - named like sympy's own functions
    """σ(z) = 1 / (1 + e^{-z})."""

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return sp.Rational(1, 2)
        if z is sp.oo:
            return sp.Integer(1)
        if z is sp.S.NegativeInfinity:
            return sp.Integer(0)
        return None

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _eval_rewrite_as_tanh(self, z, **kwargs):
        return (1 + sp.tanh(z / 2)) / 2

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.args[0].is_real else None

    def _latex(self, printer):
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


def mp_sigmoid(z):
    """σ at arbitrary precision; the branch keeps e^{-z} from overflowing mpmath's exponent
    range for hugely negative z (mpmath copes, but the branch also keeps 1 - σ exact)."""
    if z >= 0:
        return 1 / (1 + mpmath.exp(-z))
    e = mpmath.exp(z)
    return e / (1 + e)


def ew(f, m: sp.Matrix) -> sp.Matrix:
    """Apply an activation elementwise to a column vector."""
    return m.applyfunc(f)


def hadamard(a: sp.Matrix, b: sp.Matrix) -> sp.Matrix:
    return a.multiply_elementwise(b)


def ones_like(m: sp.Matrix) -> sp.Matrix:
    return sp.ones(*m.shape)
