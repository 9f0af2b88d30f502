"""Tasks of the univariate LSTM homework: BPTT for one weight, and the cell-path factor."""
from __future__ import annotations

import mpmath
import numpy as np

from reference.numeric.activations import sigmoid
from reference.numeric.lstm import LSTMParams, lstm_backward, lstm_forward

# The homework writes the biases W_0^f ...; the NumPy reference calls them b_f ...
HOMEWORK_TO_NUMERIC = {"W_0f": "b_f", "W_0i": "b_i", "W_0o": "b_o", "W_0c": "b_c", "W_0y": "b_y"}
NUMERIC_TO_HOMEWORK = {v: k for k, v in HOMEWORK_TO_NUMERIC.items()}
STABILITY_T = 1000
FORGET_BIAS, INPUT_BIAS = 15.0, -15.0


def scalar_params(rng, regime: str) -> LSTMParams:
    if regime == "stability":
        return LSTMParams.random(1, 1, 1, rng, scale=0.1, forget_bias=FORGET_BIAS, input_bias=INPUT_BIAS)
    params = LSTMParams.random(1, 1, 1, rng, scale=0.8).to_dict()
    if regime in ("saturated", "extreme"):
        lo, hi = (8.0, 30.0) if regime == "saturated" else (200.0, 1000.0)
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


class LSTMWeightGradient:
    """``grad_W(weights, x, h0, C0, grad_y) -> float``: ∂L/∂W summed over the whole
    sequence, where L = Σ_t ∇y_t · y_t (BPTT through every step)."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    supports_gradcheck = True

    def __init__(self, weight: str = "W_hi"):
        self.weight = weight
        self.numeric_name = HOMEWORK_TO_NUMERIC.get(weight, weight)
        if self.numeric_name not in LSTMParams.__dataclass_fields__:
            raise ValueError(f"unknown weight {weight!r}")

    def case(self, rng, regime: str):
        params = scalar_params(rng, regime)
        T = STABILITY_T if regime == "stability" else int(rng.integers(3, 9))
        x = rng.normal(size=T)
        h0, C0 = float(rng.normal()), float(rng.normal())
        grad_y = rng.normal(size=T)
        args = (homework_dict(params), x, h0, C0, grad_y)
        expected, magnitude = self._reference(args)
        label = {"ordinary": f"T = {T}",
                 "saturated": f"T = {T}, gates saturated (|pre-activation| 8…30)",
                 "stability": f"T = {T}, forget gates ≈ 1 and input gates ≈ 0",
                 "extreme": f"T = {T}, gates saturated up to |pre-activation| 1000"}[regime]
        return args, expected, magnitude, label

    def _reference(self, args):
        weights, x, h0, C0, grad_y = args
        params = numeric_params(weights)
        trace = lstm_forward(params, np.asarray(x)[:, None], np.array([h0]), np.array([C0]))
        grads = lstm_backward(params, trace, np.asarray(grad_y)[:, None])
        expected = float(getattr(grads.params, self.numeric_name).reshape(-1)[0])
        return expected, self._magnitude(params, trace, np.asarray(grad_y, dtype=float))

    def _magnitude(self, params: LSTMParams, trace, grad_y: np.ndarray) -> float:
        """The forward-error scale of a correct float64 BPTT written in the homework's
        value form: the same backward sweep with every term counted by its absolute
        value (1 - i becomes 1 + i, 1 - tanh² becomes 1 + tanh²). A correct answer
        may be off by a few ε times this, however much the true terms cancel or
        vanish at saturation; a wrong term is off by far more."""
        w = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in params.to_dict().items()}
        f, i, o, Ct, y = (np.abs(getattr(trace, k)[:, 0]) for k in ("f", "i", "o", "Ct", "y"))
        tanh_C = np.abs(np.tanh(trace.C[:, 0]))
        sources = {"W_h": np.abs(trace.h_prev[:, 0]), "W_x": np.abs(trace.x[:, 0])}
        slope = {"f": f * (1 + f), "i": i * (1 + i), "o": o * (1 + o), "c": 1 + Ct ** 2}
        grad_y = np.abs(grad_y)
        T = len(f)
        a_gate = {g: np.zeros(T) for g in "fioc"}
        a_C_next = 0.0
        for t in reversed(range(T)):
            a_h = abs(w["W_y"]) * y[t] * (1 + y[t]) * grad_y[t]
            if t + 1 < T:
                a_h += sum(abs(w[f"W_h{g}"]) * slope[g][t + 1] * a_gate[g][t + 1] for g in "fioc")
            a_C = o[t] * (1 + tanh_C[t] ** 2) * a_h + (f[t + 1] * a_C_next if t + 1 < T else 0.0)
            prev_C = abs(trace.C_prev[t, 0])
            a_gate["o"][t], a_gate["f"][t] = tanh_C[t] * a_h, prev_C * a_C
            a_gate["i"][t], a_gate["c"][t] = Ct[t] * a_C, i[t] * a_C
            a_C_next = a_C
        name = self.numeric_name
        if name in ("W_y", "b_y"):
            source = np.abs(trace.h[:, 0]) if name == "W_y" else np.ones(T)
            return float(np.sum(source * y * (1 + y) * grad_y))
        gate = name[-1]
        source = sources.get(name[:3], np.ones(T))
        return float(np.sum(source * slope[gate] * a_gate[gate]))

    def finite_difference(self, args) -> float:
        """Central difference of L = Σ ∇y_t · y_t with respect to the weight,
        using the reference forward pass only."""
        weights, x, h0, C0, grad_y = args

        def loss(w):
            moved = dict(weights)
            moved[self.weight] = w
            trace = lstm_forward(numeric_params(moved), np.asarray(x)[:, None], np.array([h0]), np.array([C0]))
            return float(np.dot(trace.y[:, 0], grad_y))

        w = weights[self.weight]
        h = 1e-6 * max(1.0, abs(w))
        return (loss(w + h) - loss(w - h)) / (2 * h)


class CellPathFactor:
    """``cell_path_factor(f) -> float``: ∂C_τ/∂C_{τ-k} along the cell states only,
    given the forget gates f_{τ-k+1..τ}."""

    regimes = ("ordinary", "stability")
    supports_gradcheck = False

    def case(self, rng, regime: str):
        if regime == "stability":
            k = STABILITY_T
            f = sigmoid(FORGET_BIAS + 0.5 * rng.normal(size=k))
            label = f"k = {k} forget gates ≈ 1"
        else:
            k = int(rng.integers(2, 12))
            f = rng.uniform(0.2, 1.0, size=k)
            label = f"k = {k}"
        with mpmath.workdps(50):
            expected = float(mpmath.fprod(mpmath.mpf(float(v)) for v in f))
        return (f,), expected, abs(expected), label


TASKS = {"lstm_weight_gradient": LSTMWeightGradient, "cell_path_factor": CellPathFactor}
