"""Tasks of the univariate LSTM homework: BPTT for one weight, and the cell-path factor.

Only the random leaves come from the generator; every derived input, expected
value, magnitude and finite difference comes from the exact engine
(reference.exact, the n = m = p = 1 case of the vector cell) and is rounded to
float64 once.
"""
from __future__ import annotations

from fractions import Fraction
from math import prod

import numpy as np

from grader.regimes import EXTREME_SHIFT, FORGET_BIAS, INPUT_BIAS, SATURATED_SHIFT, STABILITY_T, note
from reference.exact import lstm as exact
from reference.exact.finite import central_differences
from reference.exact.fixed import Fixed, exactly
from reference.exact.scales import bptt_scale
from reference.numeric.lstm import LSTMParams

from .base import TaskCase

# STABILITY_T, FORGET_BIAS, INPUT_BIAS live in grader.regimes; re-exported for modules that took them from here.
__all__ = ["STABILITY_T", "FORGET_BIAS", "INPUT_BIAS", "LSTMWeightGradient", "CellPathFactor", "TASKS"]

# The homework writes the biases W_0^f ...; the references call them b_f ...
HOMEWORK_TO_NUMERIC = {"W_0f": "b_f", "W_0i": "b_i", "W_0o": "b_o", "W_0c": "b_c", "W_0y": "b_y"}
NUMERIC_TO_HOMEWORK = {v: k for k, v in HOMEWORK_TO_NUMERIC.items()}
BIAS_SHIFT = {"saturated": SATURATED_SHIFT, "extreme": EXTREME_SHIFT}


def scalar_params(rng, regime: str) -> LSTMParams:
    """Random weights (leaves only: normal draws, scaled and shifted)."""
    if regime == "stability":
        return LSTMParams.random(1, 1, 1, rng, scale=0.1, forget_bias=FORGET_BIAS, input_bias=INPUT_BIAS)
    params = LSTMParams.random(1, 1, 1, rng, scale=0.8).to_dict()
    if regime in BIAS_SHIFT:
        lo, hi = BIAS_SHIFT[regime]
        for name in ("b_f", "b_i", "b_o", "b_c", "b_y"):
            params[name] = params[name] + rng.choice([-1.0, 1.0]) * rng.uniform(lo, hi)
    return LSTMParams.from_dict(params)


def homework_dict(params: LSTMParams) -> dict:
    """The weights as the student's function receives them: plain floats under the homework's names."""
    return {NUMERIC_TO_HOMEWORK.get(k, k): float(np.asarray(v).reshape(-1)[0])
            for k, v in params.to_dict().items()}


def numeric_params(weights: dict) -> LSTMParams:
    shaped = {}
    for name, value in weights.items():
        key = HOMEWORK_TO_NUMERIC.get(name, name)
        shaped[key] = np.full((1, 1) if key.startswith("W") else (1,), float(value))
    return LSTMParams.from_dict(shaped)


def _one(value):
    """The single entry of a 1 x 1 (or 1-vector) result."""
    while isinstance(value, (list, tuple)):
        (value,) = value
    return value


class LSTMWeightGradient:
    """``grad_W(weights, x, h0, C0, grad_y) -> float``: ∂L/∂W summed over the whole
    sequence, where L = Σ_t ∇y_t · y_t (BPTT through every step)."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    layouts: dict = {}
    phrases: dict = {}
    supports_gradcheck = True
    drops = ("C_next", "gates_next")

    def __init__(self, weight: str = "W_hi"):
        self.weight = weight
        self.numeric_name = HOMEWORK_TO_NUMERIC.get(weight, weight)
        if self.numeric_name not in LSTMParams.__dataclass_fields__:
            raise ValueError(f"unknown weight {weight!r}")

    def case(self, rng, regime: str) -> TaskCase:
        params = scalar_params(rng, regime)
        T = STABILITY_T if regime == "stability" else int(rng.integers(3, 9))
        x = rng.normal(size=T)
        h0, C0 = float(rng.normal()), float(rng.normal())
        grad_y = rng.normal(size=T)
        args = (homework_dict(params), x, h0, C0, grad_y)
        expected, magnitude, dropped = exactly(lambda fx: self.reference(args, fx), self.precision(args))
        return TaskCase(args, expected, magnitude, f"T = {T}" + note(regime), cost=float(T), dropped=dropped)

    @staticmethod
    def precision(args) -> Fixed:
        weights, x, h0, _, _ = args
        return exact.precision(weights, x, h0)

    def reference(self, args, fx: Fixed):
        """(expected, magnitude, dropped) at ``args``, rounded once at precision ``fx``."""
        weights, x, h0, C0, grad_y = args
        names = (self.numeric_name,)
        trace = exact.forward(weights, x, h0, C0, fx)
        grads = exact.backward(weights, trace, grad_y, names=names)

        def pick(by_name):
            return fx.to_float(_one(by_name[self.numeric_name]))

        dropped = tuple((exact.DROPS[d], pick(exact.backward(weights, trace, grad_y, drop=(d,), names=names).params))
                        for d in self.drops)
        return pick(grads.params), pick(bptt_scale(weights, trace, grads, grad_y, names)), dropped

    def finite_difference(self, args) -> float:
        """Central difference of L = Σ ∇y_t · y_t with respect to the weight, from the
        exact forward pass only, rounded once."""
        return float(self.differences(args)[self.weight])

    def differences(self, args) -> dict:
        """The central difference itself (a Fraction, within 1e-22 of the gradient)."""
        weights, x, h0, C0, grad_y = args

        def loss(values, fx):
            return exact.loss(values, x, h0, C0, grad_y, fx=fx)

        start = self.precision(args)
        return central_differences(loss, weights, (self.weight,), size=float(np.abs(grad_y).sum()),
                                   steps=len(x), fx=Fixed(start.bits + 64))


class CellPathFactor:
    """``cell_path_factor(f) -> float``: ∂C_τ/∂C_{τ-k} along the cell states only,
    given the forget gates f_{τ-k+1..τ}. A plain product: no path can be dropped."""

    regimes = ("ordinary", "stability")
    layouts: dict = {}
    phrases = {"stability": f"with forget gates ≈ 1 (k = {STABILITY_T})"}
    supports_gradcheck = False

    def case(self, rng, regime: str) -> TaskCase:
        if regime == "stability":
            k = STABILITY_T
            z = FORGET_BIAS + 0.5 * rng.normal(size=k)       # leaves; the gates are exact σ(z), rounded once
            f = exactly(lambda fx: np.array([fx.to_float(fx.sigmoid(fx.of(v))[0]) for v in z]),
                        Fixed.for_bound(float(np.abs(z).max())))
            label = f"k = {k} forget gates ≈ 1"
        else:
            k = int(rng.integers(2, 12))
            f = rng.uniform(0.2, 1.0, size=k)
            label = f"k = {k}"
        expected, magnitude = self.reference(f)
        return TaskCase((f,), expected, magnitude, label, cost=float(k))

    @staticmethod
    def reference(f) -> tuple[float, float]:
        """The exact product of the given floats (numerators and power-of-two
        denominators multiplied as ints), rounded once, and the running error bound
        of a float64 product: each of the k - 1 multiplications adds its rounding
        at the scale of the partial product, carried on by the later (true)
        factors, so (k - 1)|∏f|."""
        ratios = [float(v).as_integer_ratio() for v in f]
        product = Fraction(prod(num for num, _ in ratios), prod(den for _, den in ratios))
        return float(product), float((len(ratios) - 1) * abs(product))


TASKS = {"lstm_weight_gradient": LSTMWeightGradient, "cell_path_factor": CellPathFactor}
