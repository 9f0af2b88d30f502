"""Tasks of the rnn_variants pack (seed 000, the course article): carried-state factors
of the GRU and of the prototype and pseudo LSTM, the vanilla RNN's vanishing bound
|γw|^k, and the initialization ranges.

The factors are derived, never typed: ∂s_t/∂s_{t-1} is the total derivative of the
cell's own forward equations (reference.symbolic), through every node of step t
("full") or along the state's own term only ("direct": z_t for the GRU, f_t for
the LSTMs). Only the leaves (weights, inputs, initial state) come from the
generator; the forward pass runs in mpmath, each quantity the student receives is
rounded to float64 once, and the expected product is evaluated exactly at those
very floats, so no CPU's exp or tanh decides a graded number.
"""
from __future__ import annotations

from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from reference.symbolic import evaluate as ev
from reference.symbolic.cells import get_cell
from reference.symbolic.graph import Graph

from ..regimes import FORGET_BIAS, INPUT_BIAS, STABILITY_T
from .base import TaskCase, distinct, draw_testable

PATHS = ("full", "direct")
# Biases that hold the carried path open (σ(15) = 1 - 3.1e-7): the GRU keeps its state
# when the update gate z ≈ 1; the LSTMs when f ≈ 1 and i ≈ 0.
STABLE_BIASES = {
    "gru": {"b_z": FORGET_BIAS},
    "prototype_lstm": {"b_f": FORGET_BIAS, "b_i": INPUT_BIAS},
    "pseudo_lstm": {"b_f": FORGET_BIAS, "b_i": INPUT_BIAS},
}
STABLE_WORDS = {"gru": "update gates ≈ 1", "prototype_lstm": "forget gates ≈ 1 and input gates ≈ 0",
                "pseudo_lstm": "forget gates ≈ 1 and input gates ≈ 0"}
DPS = 60


@lru_cache(maxsize=None)
def _step_graph(cell: str) -> Graph:
    """One step of a scalar cell: the state at t-1 is a leaf, every node is of step t."""
    return Graph(get_cell(cell), ("t-1", "t"))


@lru_cache(maxsize=None)
def carried_factor(cell: str, state: str, path: str) -> sp.Expr:
    """∂state_t/∂state_{t-1}: through every node of step t, or along the direct term only."""
    g = _step_graph(cell)
    new, old = g.value(state, "t")[0], g.value(state, "t-1")[0]
    if path == "direct":
        return g.local(new, old)
    return g.total_derivative(new, old, through=set(g.order))


class CarriedFactor:
    """``f(*inputs) -> float``: ∏_{j=1}^{k} ∂s_j/∂s_{j-1} over k consecutive steps of
    ``cell``. Quantities of a step ("z@t") arrive as arrays of length k (one entry per
    step, oldest first), weights ("w_z") as floats."""

    regimes = ("ordinary", "saturated", "stability")
    layouts: dict = {}
    # the instance words the stability case after its cell's gates
    phrases = {"stability": f"with the carried path held open (k = {STABILITY_T})"}
    supports_gradcheck = False

    def __init__(self, cell: str = "gru", state: str = "s", path: str = "full", inputs: tuple = ()):
        if path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, not {path!r}")
        self.cell, self.state, self.path = cell, state, path
        self.graph = _step_graph(cell)
        self.expr = carried_factor(cell, state, path)
        other = carried_factor(cell, state, "direct" if path == "full" else "full")
        self.inputs = tuple(inputs) or self.default_inputs()
        self.symbols = tuple(self._symbol(q) for q in self.inputs)
        missing = self.expr.free_symbols - set(self.symbols)
        if missing:
            raise ValueError(f"the {path} factor of {cell} needs {sorted(s.name for s in missing)}; "
                             f"add them to inputs (quantities such as 's@t-1', 'z@t', or weights)")
        # the other path is a named mistake only when the student's inputs can express it
        self.other = other if other.free_symbols <= set(self.symbols) else None
        self.per_step = tuple("@" in q for q in self.inputs)
        self.size = ev.abs_form(self.expr)
        self.phrases = {"stability": f"with {STABLE_WORDS.get(cell, 'the carried path open')} "
                                     f"(k = {STABILITY_T})"}

    def default_inputs(self) -> tuple[str, ...]:
        """What the factor needs, in the order the cell computes it, weights last."""
        g, needed = self.graph, self.expr.free_symbols
        steps = [f"{self.state}@t-1"] if g.value(self.state, "t-1")[0] in needed else []
        steps += [f"{g.node_of[n][0]}@t" for n in g.order if n in needed]
        return tuple(steps + [name for name, m in g.params.items() if m[0] in needed])

    def _symbol(self, quantity: str) -> sp.Symbol:
        name, _, step = quantity.partition("@")
        try:
            return self.graph.value(name.strip(), step.strip() or None)[0]
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]}; a step is 't' or 't-1'") from None

    def case(self, rng, regime: str) -> TaskCase:
        return draw_testable(self._draw, rng, regime)

    def _leaves(self, rng, regime: str) -> dict:
        g = self.graph
        scale = 0.1 if regime == "stability" else 0.8
        out = {}
        for name, mat in g.params.items():
            value = float(rng.normal(0.0, scale))
            if regime == "stability":
                value += STABLE_BIASES.get(self.cell, {}).get(name, 0.0)
            elif regime == "saturated" and g.cell.param(name).shape[1] == "1":
                value += float(rng.choice([-1.0, 1.0]) * rng.uniform(8.0, 30.0))
            out[mat[0]] = value
        return out

    def _draw(self, rng, regime: str) -> TaskCase:
        g = self.graph
        k = STABILITY_T if regime == "stability" else int(rng.integers(1, 7))
        weights = self._leaves(rng, regime)
        x_sym, s_sym = g.inputs[1][0], g.value(self.state, "t-1")[0]
        state = mpmath.mpf(float(rng.normal(0.0, 0.5)))
        rows = []
        with mpmath.workdps(DPS):
            for x in rng.normal(size=k):
                env = ev.forward(g, {**weights, x_sym: float(x), s_sym: state}, exact=True)
                rows.append({s: float(env[s]) for s in self.symbols})
                state = env[g.value(self.state, "t")[0]]
        args = tuple(np.array([r[s] for r in rows]) if step else float(weights[s])
                     for s, step in zip(self.symbols, self.per_step))
        expected, magnitude, other = self.reference(args)
        name = ("only the direct path (the state's own term, gates held fixed)" if self.path == "full"
                else "every path (the full ∂s_t/∂s_{t-1}), where only the direct one was asked")
        dropped = distinct(expected, magnitude, [(name, other)] if other is not None else [])
        label = f"k = {k}" + {"ordinary": "", "saturated": ", gates saturated (|pre-activation| 8…30)",
                              "stability": f", {STABLE_WORDS.get(self.cell, 'carried path open')}"}[regime]
        return TaskCase(args, expected, magnitude, label, cost=float(k), dropped=dropped)

    def reference(self, args) -> tuple[float, float, float]:
        """The exact product at the student's floats, the scale of a correct float64
        product's rounding (each factor off by a few ε of its terms' size A_j, carried
        by the other factors: Σ_j A_j ∏_{i≠j}|J_i|, plus (k-1)|∏J| for the products),
        and the other path's product."""
        k = next(len(a) for a, step in zip(args, self.per_step) if step)
        envs = []
        for j in range(k):
            env = {s: mpmath.mpf(float(a[j] if step else a)) for s, a, step in zip(self.symbols, args, self.per_step)}
            env["dps"] = DPS + ev.required_dps([float(v) for v in env.values()]) - ev.GUARD_DIGITS
            envs.append(env)
        with mpmath.workdps(DPS + 40):
            factors = [ev.evaluate(self.expr, e, exact=True) for e in envs]
            sizes = [ev.evaluate(self.size, e, exact=True) for e in envs]
            others = [ev.evaluate(self.other, e, exact=True) for e in envs] if self.other is not None else None
            prefix = [mpmath.mpf(1)]
            for f in factors:
                prefix.append(prefix[-1] * abs(f))
            suffix = [mpmath.mpf(1)]
            for f in reversed(factors):
                suffix.append(suffix[-1] * abs(f))
            suffix.reverse()
            spread = mpmath.fsum(prefix[j] * sizes[j] * suffix[j + 1] for j in range(k))
            product = mpmath.fprod(factors)
            magnitude = spread + (k - 1) * abs(product)
            return float(product), float(magnitude), None if others is None else float(mpmath.fprod(others))


GAMMA = {"tanh": mpmath.mpf(1), "sigmoid": mpmath.mpf(1) / 4}


def _derivative(activation: str, z):
    if activation == "tanh":
        return 1 - mpmath.tanh(z) ** 2
    s = 1 / (1 + mpmath.exp(-z))
    return s * (1 - s)


class VanishingBound:
    """``f(w, z) -> (gradient, bound)`` for a scalar RNN h_t = φ(w h_{t-1} + u x_t + b):
    the gradient ∂h_τ/∂h_{τ-k} = ∏_j w φ'(z_j) over the pre-activations z (length k),
    and its bound |γ w|^k (γ = max φ' = 1 for tanh, 1/4 for the logistic sigmoid).
    Ordinary cases are tight (every z = 0, where φ' = γ and the bound is attained) or
    loose (random z), by a coin of the case's generator."""

    regimes = ("ordinary",)
    layouts: dict = {}
    phrases: dict = {}
    supports_gradcheck = False

    def __init__(self, activation: str = "tanh", outputs=()):
        # ``outputs`` only names the tuple's items in the grader's messages.
        self.outputs = tuple(outputs)
        if activation not in GAMMA:
            raise ValueError(f"activation must be one of {sorted(GAMMA)}, not {activation!r}")
        self.activation = activation

    def case(self, rng, regime: str) -> TaskCase:
        return draw_testable(self._draw, rng, regime)

    def _draw(self, rng, regime: str) -> TaskCase:
        tight = bool(rng.integers(0, 2))
        k = int(rng.integers(2, 12))
        w = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 4.5))
        z = np.zeros(k) if tight else rng.normal(0.0, 1.5, size=k)
        expected, magnitude, dropped = self.reference(w, z)
        label = f"k = {k}, " + ("every pre-activation 0: the bound is attained" if tight
                                else "random pre-activations: the bound is loose")
        return TaskCase((w, z), expected, magnitude, label, cost=1.0,
                        dropped=distinct(expected, magnitude, dropped))

    def reference(self, w: float, z) -> tuple:
        gamma = GAMMA[self.activation]
        k = len(z)
        with mpmath.workdps(DPS):
            slopes = [_derivative(self.activation, mpmath.mpf(float(v))) for v in z]
            gradient = mpmath.fprod(mpmath.mpf(w) * d for d in slopes)
            bound = abs(gamma * mpmath.mpf(w)) ** k
            # each factor w·φ'(z) is a few roundings of its own size: 4k in all
            magnitude = (float(4 * k * abs(gradient)), float((k + 1) * bound))
            dropped = [("without the factors φ'(z_j)", (float(mpmath.mpf(w) ** k), float(bound))),
                       ("with γ = 1 for the logistic sigmoid (its slope is at most 1/4)",
                        (float(gradient), float(abs(mpmath.mpf(w)) ** k)))]
            if self.activation == "tanh":
                dropped.pop()
            return (float(gradient), float(bound)), magnitude, dropped


class InitRanges:
    """``f(n, m) -> (a, b)``: the half-widths of the uniform initializations, a = √3/√n
    (variance 1/n for a layer with n inputs) and Xavier-Glorot's b = √6/√(n + m)."""

    regimes = ("ordinary",)
    layouts: dict = {}
    phrases: dict = {}
    supports_gradcheck = False

    def __init__(self, outputs=()):
        self.outputs = tuple(outputs)

    def case(self, rng, regime: str) -> TaskCase:
        return draw_testable(self._draw, rng, regime)

    def _draw(self, rng, regime: str) -> TaskCase:
        n, m = (int(v) for v in rng.integers(2, 2049, size=2))
        with mpmath.workdps(DPS):
            a, b = mpmath.sqrt(3) / mpmath.sqrt(n), mpmath.sqrt(6) / mpmath.sqrt(n + m)
            expected = (float(a), float(b))
            magnitude = (4 * expected[0], 4 * expected[1])
            candidates = [("the standard deviation 1/√n instead of the half-width √3/√n",
                           (float(1 / mpmath.sqrt(n)), expected[1])),
                          ("Xavier-Glorot's range without the factor √6 (or with √3)",
                           (expected[0], float(mpmath.sqrt(3) / mpmath.sqrt(n + m)))),
                          ("the variance's half-width √(3/n) written as 3/√n",
                           (float(3 / mpmath.sqrt(n)), expected[1]))]
        return TaskCase((n, m), expected, magnitude, f"n = {n}, m = {m}",
                        dropped=distinct(expected, magnitude, candidates))


TASKS = {"carried_factor": CarriedFactor, "vanishing_bound": VanishingBound, "init_ranges": InitRanges}
