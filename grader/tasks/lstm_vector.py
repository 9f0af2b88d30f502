"""Tasks of the vector LSTM homework: gate gradients, one backward step, BPTT.

The student works in the homework's notation (W_hf, W_xf, W_0f, ...) with
column vectors. Only the random leaves (weights, inputs, upstream gradients,
initial states) come from the generator; every derived input, expected value,
magnitude and finite difference comes from the exact engine
(reference.exact) and is rounded to float64 once, so no CPU's exp, tanh or
BLAS can change a graded number. Expected values are exact at the very floats
the student receives. Magnitudes follow the value form a student writes (σ'
as f(1-f), tanh' as 1 - C̃²): within one step its absolute-value form, along a
sequence reference.exact.scales' running error bound.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from grader.regimes import EXTREME_SHIFT, FORGET_BIAS, INPUT_BIAS, SATURATED_SHIFT, STABILITY_T, note
from reference.exact import lstm as exact
from reference.exact.finite import central_differences
from reference.exact.finite import to_float as fraction_floats
from reference.exact.fixed import Fixed, Raw, exactly
from reference.exact.scales import bptt_scale
from reference.numeric.lstm import PARAM_NAMES, LSTMParams

from .base import TaskCase

# The homework writes the biases W_0f ...; the references call them b_f ...
HOMEWORK_NAMES = tuple(name.replace("b_", "W_0") for name in PARAM_NAMES)
TO_NUMERIC = dict(zip(HOMEWORK_NAMES, PARAM_NAMES))
GATE_WEIGHTS = HOMEWORK_NAMES[:12]          # what one step of the cell uses (no W_y, W_0y)
GATES = exact.GATES
CACHE_KEYS = ("x", "h_prev", "C_prev", "f", "i", "o", "Ct", "C")
BIAS_SHIFT = {"saturated": SATURATED_SHIFT, "extreme": EXTREME_SHIFT}
GATE_NAMES = {"f": "the forget gate f_t", "i": "the input gate i_t", "o": "the output gate o_t",
              "c": "the candidate C̃_t"}


def draw_sizes(rng) -> tuple[int, int, int]:
    """Hidden, input and output sizes. Kept distinct from each other as often as
    possible so that a transposed matrix shows up as a wrong shape."""
    n = int(rng.integers(2, 5))
    m = int(rng.choice([k for k in (1, 2, 3, 4) if k != n]))
    p = int(rng.choice([k for k in (1, 2, 3) if k not in (n, m)] or [1]))
    return n, m, p


def draw_params(rng, regime: str, n: int, m: int, p: int) -> LSTMParams:
    """Random weights (leaves only: normal draws, scaled and shifted)."""
    if regime == "stability":
        return LSTMParams.random(n, m, p, rng, scale=0.1, forget_bias=FORGET_BIAS, input_bias=INPUT_BIAS)
    params = LSTMParams.random(n, m, p, rng, scale=0.8).to_dict()
    if regime in BIAS_SHIFT:
        lo, hi = BIAS_SHIFT[regime]
        for name in params:
            if name.startswith("b_"):
                # each unit on its own side, so both rounding directions (σ ≈ 0 and σ ≈ 1) occur
                size = params[name].shape
                params[name] = params[name] + rng.choice([-1.0, 1.0], size=size) * rng.uniform(lo, hi, size=size)
    return LSTMParams.from_dict(params)


def homework_weights(params: LSTMParams) -> dict[str, np.ndarray]:
    return {hw: np.array(getattr(params, TO_NUMERIC[hw])) for hw in HOMEWORK_NAMES}


def numeric_params(weights: dict) -> LSTMParams:
    return LSTMParams.from_dict({TO_NUMERIC[hw]: np.asarray(weights[hw], dtype=float) for hw in HOMEWORK_NAMES})


def sequence(rng, regime: str, short=(3, 9)):
    """A random sequence problem: (params, x, h0, C0, grad_y) as float64 arrays."""
    n, m, p = draw_sizes(rng)
    params = draw_params(rng, regime, n, m, p)
    T = STABILITY_T if regime == "stability" else int(rng.integers(*short))
    x = rng.normal(size=(T, m))
    h0, C0 = rng.normal(size=n), rng.normal(size=n)
    grad_y = rng.normal(size=(T, p))
    return params, x, h0, C0, grad_y


def _label(regime: str, T: int, n: int, m: int, p: int) -> str:
    return f"T = {T}, n = {n}, m = {m}, p = {p}" + note(regime)


# -- one step ----------------------------------------------------------------

def _step_problem(rng, regime: str):
    """A short sequence with upstream gradients on every y_t and h_t, so that ∇h_t
    and ∇C_t at every step are non-trivial totals, as the homework defines them.
    Returns the leaves and ``rounded(pick)``, which rounds exact quantities of the
    sequence's forward and backward pass (``pick(trace, grads)``) once."""
    params, x, h0, C0, grad_y = sequence(rng, regime, short=(2, 6))
    grad_h = rng.normal(size=(len(x), params.n))
    weights = params.to_dict()

    def rounded(pick):
        def compute(fx):
            trace = exact.forward(weights, x, h0, C0, fx)
            grads = exact.backward(weights, trace, grad_y, grad_h)
            return tuple(fx.to_float(v) for v in pick(trace, grads))
        return exactly(compute, exact.precision(weights, x, h0))

    return params, x, h0, C0, rounded


class GateGradients:
    """``gate_gradients(grad_h, grad_C, C, C_prev, i, Ct) -> (grad_o, grad_f, grad_i, grad_Ct)``:
    the gradients with respect to the gate VALUES of one step, given the total
    ∇h_t and ∇C_t. Each is a plain product: no path can be dropped."""

    regimes = ("ordinary", "saturated")
    layouts: dict = {}
    phrases: dict = {}
    supports_gradcheck = False

    def __init__(self, outputs=()):
        if outputs and len(outputs) != 4:
            raise ValueError(f"gate_gradients returns 4 arrays; outputs names {len(outputs)}")

    def case(self, rng, regime: str) -> TaskCase:
        params, x, h0, C0, rounded = _step_problem(rng, regime)
        t = int(rng.integers(len(x)))
        args = rounded(lambda tr, g: (g.grad_h[t], g.grad_C[t], tr.C[t], tr.C_prev[t], tr.i[t], tr.Ct[t]))
        expected, magnitude = self.reference(args)
        label = f"step {t + 1} of {len(x)}, n = {params.n}" + note(regime)
        return TaskCase(args, expected, magnitude, label, cost=1.0)

    @staticmethod
    def reference(args):
        """∇o = tanh(C)∇h, ∇f = C_prev∇C, ∇i = C̃∇C, ∇C̃ = i∇C exactly at the given floats,
        and their magnitudes (each a single product: its absolute value)."""
        grad_h, grad_C, C, C_prev, i, Ct = args

        def compute(fx):
            gh, gC = fx.vector(grad_h), fx.vector(grad_C)
            tanh_C = [fx.tanh(v)[0] for v in fx.vector(C)]
            values = ([fx.mul(a, b) for a, b in zip(tanh_C, gh)],
                      *([fx.mul(a, b) for a, b in zip(fx.vector(factor), gC)] for factor in (C_prev, Ct, i)))
            return (tuple(fx.to_float(v) for v in values),
                    tuple(fx.to_float([abs(a) for a in v]) for v in values))

        return exactly(compute, Fixed.for_bound(2 * float(np.abs(C).max())))


class StepBackward:
    """``step_backward(grad_h, grad_C, cache, weights) -> (grad_h_prev, grad_C_prev, grads)``
    as the pack's driver returns it: the step's share of ∇h_{t-1} and ∇C_{t-1},
    then the step's gradient of each gate weight in GATE_WEIGHTS order.

    The step is the first of a short sequence, whose exact totals ∇h_1, ∇C_1
    are handed out rounded; the reference is the step's exact backward from
    those very floats: L = ∇h_t·h_t + b·C_t, b = ∇C_t - o_t tanh'(C_t) ∇h_t."""

    regimes = ("ordinary", "saturated")
    layouts: dict = {}
    phrases: dict = {}
    supports_gradcheck = True
    dropped_gates = ("f", "i", "o")        # ∇h_{t-1} missing one gate's path: the classic slips

    def __init__(self, outputs=()):
        if outputs and len(outputs) != 2 + len(GATE_WEIGHTS):
            raise ValueError(f"step_backward returns {2 + len(GATE_WEIGHTS)} arrays; outputs names {len(outputs)}")

    def case(self, rng, regime: str) -> TaskCase:
        params, x, h0, C0, rounded = _step_problem(rng, regime)
        cache_values = rounded(lambda tr, g: (*(tr.gate[k][0] for k in GATES), tr.C[0], g.grad_h[0], g.grad_C[0]))
        cache = {k: np.array(v, dtype=float) for k, v in zip(CACHE_KEYS, (x[0], h0, C0, *cache_values[:5]))}
        args = (cache_values[5], cache_values[6], cache, homework_weights(params))

        def compute(fx):
            step, grads, _ = self._step(args, fx)
            expected = self._outputs(fx, grads, grads.grad_h0)
            dropped = tuple((f"∇h_{{t-1}} ignores the path through {GATE_NAMES[g]}",
                             self._outputs(fx, grads, self._h_prev_without(args[3], grads, g, fx)))
                            for g in self.dropped_gates)
            return expected, self._magnitude(args, step, grads), dropped

        expected, magnitude, dropped = exactly(compute, self._precision(args))
        label = f"step 1 of {len(x)}, n = {params.n}, m = {params.m}" + note(regime)
        return TaskCase(args, expected, magnitude, label, cost=1.0, dropped=dropped)

    @staticmethod
    def _precision(args) -> Fixed:
        _, _, cache, weights = args
        return exact.precision({w: weights[w] for w in GATE_WEIGHTS}, [cache["x"]], cache["h_prev"])

    @staticmethod
    def _step(args, fx: Fixed):
        """The step's exact forward from (x, h_prev, C_prev) and its backward from the
        given ∇h_t and b; also b, exact."""
        grad_h, grad_C, cache, weights = args
        gate_weights = {w: weights[w] for w in GATE_WEIGHTS}
        step = exact.forward(gate_weights, [cache["x"]], cache["h_prev"], cache["C_prev"], fx)
        gh = fx.vector(grad_h)
        b = [g - fx.mul3(o, d, h) for g, o, d, h in zip(fx.vector(grad_C), step.o[0], step.dtanhC[0], gh)]
        grads = exact.backward(gate_weights, step, grad_h=[grad_h], grad_C=[[Raw(v) for v in b]])
        return step, grads, b

    @staticmethod
    def _outputs(fx: Fixed, grads, grad_h_prev) -> tuple:
        per_weight = {hw: grads.params[TO_NUMERIC[hw]] for hw in GATE_WEIGHTS}
        return (fx.to_float(grad_h_prev), fx.to_float(grads.grad_C0),
                *(fx.to_float(per_weight[w]) for w in GATE_WEIGHTS))

    @staticmethod
    def _h_prev_without(weights, grads, gate: str, fx: Fixed) -> list:
        """∇h_{t-1} = Σ_g W_hgᵀ ∇z_g without gate ``gate``'s term."""
        kept = [g for g in GATES if g != gate]
        W = {g: fx.matrix(weights[f"W_h{g}"]) for g in kept}
        gz = [v for g in kept for v in grads.grad_z[g][0]]
        n = len(grads.grad_h0)
        return [fx.dot([W[g][a][j] for g in kept for a in range(n)], gz) for j in range(n)]

    @staticmethod
    def _magnitude(args, step, grads) -> tuple:
        """|terms| of the value-form step: σ' as f(1+f), tanh' as 1+C̃², products as they are."""
        grad_h, grad_C, cache, weights = args
        fx, one = step.fx, step.fx.one
        gh, gC = [abs(v) for v in fx.vector(grad_h)], [abs(v) for v in fx.vector(grad_C)]
        v = {g: [abs(a) for a in step.gate[g][0]] for g in GATES}
        gate = {"o": [fx.mul(abs(a), b) for a, b in zip(step.tanhC[0], gh)],
                "f": [fx.mul(abs(a), b) for a, b in zip(step.C0, gC)],
                "i": [fx.mul(a, b) for a, b in zip(v["c"], gC)], "c": [fx.mul(a, b) for a, b in zip(v["i"], gC)]}
        slope = {g: [fx.mul(a, one + a) for a in v[g]] for g in "fio"}
        slope["c"] = [one + fx.mul(a, a) for a in v["c"]]
        a_z = {g: [fx.mul(s, q) for s, q in zip(slope[g], gate[g])] for g in GATES}
        W = {g: [[abs(a) for a in row] for row in fx.matrix(weights[f"W_h{g}"])] for g in GATES}
        n = len(gh)
        stacked = [q for g in GATES for q in a_z[g]]
        a_h_prev = [fx.dot([W[g][a][j] for g in GATES for a in range(n)], stacked) for j in range(n)]
        h_prev, x = [abs(a) for a in step.h0], [abs(a) for a in step.x[0]]
        out = {}
        for g in GATES:
            out[f"W_h{g}"] = [[fx.mul(a, b) for b in h_prev] for a in a_z[g]]
            out[f"W_x{g}"] = [[fx.mul(a, b) for b in x] for a in a_z[g]]
            out[f"W_0{g}"] = a_z[g]
        a_C_prev = [fx.mul(a, b) for a, b in zip(v["f"], gC)]
        return (fx.to_float(a_h_prev), fx.to_float(a_C_prev), *(fx.to_float(out[w]) for w in GATE_WEIGHTS))

    @classmethod
    def finite_difference(cls, args) -> tuple:
        """Central differences of the step's exact forward pass, L = ∇h_t·h_t + b·C_t with
        b the part of ∇C_t that does not come through h_t (held at its value); rounded once."""
        diffs = cls.differences(args)
        return tuple(fraction_floats(diffs[name]) for name in ("h_prev", "C_prev", *GATE_WEIGHTS))

    @classmethod
    def differences(cls, args) -> dict:
        """The central differences themselves (Fractions, within 1e-22 of the gradient)."""
        grad_h, grad_C, cache, weights = args
        start = cls._precision(args)
        _, _, b = cls._step(args, start)
        b = [Fraction(v, start.one) for v in b]

        def step_loss(values, fx):
            w = {name: values[name] for name in GATE_WEIGHTS}
            return exact.loss(w, [cache["x"]], values["h_prev"], values["C_prev"], grad_h=[grad_h], grad_C=[b], fx=fx)

        point = {**weights, "h_prev": cache["h_prev"], "C_prev": cache["C_prev"]}
        size = float(np.abs(grad_h).sum() + sum(abs(v) for v in b) * (1 + np.abs(cache["C_prev"]).max()))
        return central_differences(step_loss, point, ("h_prev", "C_prev", *GATE_WEIGHTS), size=size, steps=1,
                                   fx=Fixed(start.bits + 64))


# -- a whole sequence --------------------------------------------------------

class WeightGradients:
    """``bptt(weights, x, h0, C0, grad_y)`` reduced to the listed weights: one
    weight gives its matrix (``grad_W_hi``), several give a tuple in that order
    (the pack's driver turns the student's dict into it). L = Σ_t ∇y_t · y_t,
    through every step (BPTT)."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    layouts: dict = {}
    phrases: dict = {}
    supports_gradcheck = True
    drops = ("C_next", "gates_next")

    def __init__(self, weights=HOMEWORK_NAMES, outputs=()):
        self.weights = (weights,) if isinstance(weights, str) else tuple(weights)
        unknown = [w for w in self.weights if w not in TO_NUMERIC]
        if unknown or not self.weights:
            raise ValueError(f"unknown weights {unknown}; known: {', '.join(HOMEWORK_NAMES)}")
        if outputs and len(outputs) != len(self.weights):
            raise ValueError(f"{len(self.weights)} weights but outputs names {len(outputs)}")

    def _pick(self, rounding, by_numeric_name: dict):
        picked = tuple(rounding(by_numeric_name[TO_NUMERIC[w]]) for w in self.weights)
        return picked[0] if len(picked) == 1 else picked

    def case(self, rng, regime: str) -> TaskCase:
        params, x, h0, C0, grad_y = sequence(rng, regime)
        args = (homework_weights(params), x, h0, C0, grad_y)
        expected, magnitude, dropped = exactly(lambda fx: self.reference(args, fx), self.precision(args))
        return TaskCase(args, expected, magnitude, _label(regime, len(x), params.n, params.m, params.p),
                        cost=float(len(x)), dropped=dropped)

    @staticmethod
    def precision(args) -> Fixed:
        weights, x, h0, _, _ = args
        return exact.precision(weights, x, h0)

    def reference(self, args, fx: Fixed):
        """(expected, magnitude, dropped) at ``args``, rounded once at precision ``fx``."""
        weights, x, h0, C0, grad_y = args
        names = [TO_NUMERIC[w] for w in self.weights]
        trace = exact.forward(weights, x, h0, C0, fx)
        grads = exact.backward(weights, trace, grad_y, names=names)
        dropped = tuple((exact.DROPS[d], self._pick(fx.to_float, exact.backward(weights, trace, grad_y, drop=(d,),
                                                                                names=names).params))
                        for d in self.drops)
        return (self._pick(fx.to_float, grads.params),
                self._pick(fx.to_float, bptt_scale(weights, trace, grads, grad_y, names)), dropped)

    def finite_difference(self, args):
        """Central differences of L = Σ ∇y_t·y_t from the exact forward pass alone, rounded once."""
        diffs = self.differences(args)
        picked = tuple(fraction_floats(diffs[w]) for w in self.weights)
        return picked[0] if len(picked) == 1 else picked

    def differences(self, args) -> dict:
        """The central differences themselves (Fractions, within 1e-22 of the gradient)."""
        weights, x, h0, C0, grad_y = args

        def sequence_loss(values, fx):
            return exact.loss(values, x, h0, C0, grad_y, fx=fx)

        start = self.precision(args)
        return central_differences(sequence_loss, weights, self.weights, size=float(np.abs(grad_y).sum()),
                                   steps=len(x), fx=Fixed(start.bits + 64))


TASKS = {
    "vector_gate_gradients": GateGradients,
    "vector_step_backward": StepBackward,
    "vector_weight_gradients": WeightGradients,
}
