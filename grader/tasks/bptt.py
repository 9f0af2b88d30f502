"""Tasks of the BPTT-products pack: seed 002's equations (1)-(4) and seed 001's one-step ∂C_t/∂C_{t-1}.

Every case is drawn from a real forward pass (vanilla RNN or LSTM), so the
hidden states, gates and cell states a student receives are ones a network
could produce. Expected values come from the verified references in
``reference.numeric.rnn`` and ``reference.symbolic``; magnitudes bound the
rounding a correct float64 computation may carry, whatever order it multiplies
in, so that a correct answer passes at saturation and over 1,000 steps while a
transposed or reversed product does not.
"""
from __future__ import annotations

from functools import lru_cache

import mpmath
import numpy as np

from reference import one_step_jacobian
from reference.numeric.activations import sigmoid
from reference.numeric.lstm import LSTMParams, cell_jacobian, cell_path_factor, lstm_forward
from reference.numeric.rnn import (
    SUP_ABS_TANH,
    lstm_cell_path_gradient,
    rnn_forward,
    rnn_grad_k_steps_back,
    rnn_norm_bound,
)
from reference.symbolic import evaluate as ev

from .lstm_scalar import FORGET_BIAS, INPUT_BIAS, STABILITY_T

SATURATED_SHIFT = (8.0, 30.0)
STABILITY_RNN_NORM = 0.9
FD_STEP = 1e-5


def _orthogonal(rng, n: int) -> np.ndarray:
    """A random rotation. With det +1 and n >= 3 it is (almost surely) not
    symmetric, so W and W^T give different products."""
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _with_singular_values(rng, n: int, top: float) -> np.ndarray:
    """A non-symmetric matrix whose largest singular value is ``top`` and whose
    others lie in (0.3, 0.9)·top: its Frobenius norm and spectral radius are then
    both clearly different from its spectral norm."""
    rest = top * rng.uniform(0.3, 0.9, size=n - 1)
    return _orthogonal(rng, n) @ np.diag(np.concatenate([[top], rest])) @ _orthogonal(rng, n).T


def _rnn_sequence(rng, regime: str):
    """W (n, n), the hidden states h_1..h_T (T, n) of a forward pass, and T."""
    if regime == "stability":
        n, T = int(rng.integers(3, 6)), STABILITY_T
        # A scaled rotation has every singular value 0.9, so the product shrinks
        # like 0.9^k: vanished by k = 1000 yet still far from underflow.
        W = STABILITY_RNN_NORM * _orthogonal(rng, n)
        U, b = 0.1 * rng.normal(size=(n, n)), 0.1 * rng.normal(size=n)
    elif regime == "saturated":
        n, T = int(rng.integers(3, 6)), int(rng.integers(3, 10))
        W, U = 2.5 * rng.normal(size=(n, n)), rng.normal(size=(n, n))
        b = rng.choice([-1.0, 1.0], size=n) * rng.uniform(3.0, 8.0, size=n)
    else:
        n, T = int(rng.integers(3, 6)), int(rng.integers(2, 9))
        W, U, b = rng.normal(size=(n, n)) / np.sqrt(n), 0.3 * rng.normal(size=(n, n)), 0.2 * rng.normal(size=n)
    trace = rnn_forward(W, U, b, rng.normal(size=(T, n)), 0.5 * rng.normal(size=n))
    return W, np.array(trace.h), T


def product_error_scale(factors: np.ndarray, abs_factors: np.ndarray, g: np.ndarray) -> float:
    """Scale of the rounding error of F_1 F_2 ... F_k g in float64, for any of the
    usual evaluation orders (vector from the right, matrices from the left or
    from the right): Σ_i ‖|F_1..F_{i-1}|‖ ‖A_i‖ ‖|F_{i+1}..F_k|‖ ‖g‖, where A_i
    bounds the error of forming F_i. A componentwise |F_1|...|F_k| would grow
    like ‖|W|‖^k and swamp a vanishing product; this does not."""
    k, n, _ = factors.shape
    prefix, suffix = np.empty_like(factors), np.empty_like(factors)
    left = right = np.eye(n)
    for i in range(k):
        prefix[i], left = left, left @ factors[i]
        suffix[k - 1 - i], right = right, factors[k - 1 - i] @ right
    norms = [np.linalg.norm(m, 2, axis=(1, 2)) for m in (np.abs(prefix), abs_factors, np.abs(suffix))]
    return (n + 2) * float(np.sum(norms[0] * norms[1] * norms[2])) * float(np.linalg.norm(g))


class RNNGradientKStepsBack:
    """``rnn_grad_k_steps_back(W, h, grad_h_tau) -> (n,)``: eq. (1),
    [∏_{i=1}^k W^T diag(1 - (h^{τ-k+i})²)] ∇_{h^τ}L, with h (k, n) holding
    h^{τ-k+1}, ..., h^τ row by row."""

    regimes = ("ordinary", "saturated", "stability")
    # A vanilla RNN has no gates: its saturated and long cases read differently.
    phrases = {"saturated": "when the hidden units saturate (|h| near 1)",
               "stability": "over k = 1000 steps with ‖W‖₂ = 0.9, where the gradient vanishes"}
    supports_gradcheck = True

    def case(self, rng, regime: str):
        W, h, k = _rnn_sequence(rng, regime)
        n = W.shape[0]
        g = rng.normal(size=n)
        # The reference indexes states by time with h^0 in row 0, which eq. (1) never reads.
        expected = rnn_grad_k_steps_back(W, np.vstack([np.zeros(n), h]), g, k, k)
        label = {"ordinary": f"k = {k}, n = {n}",
                 "saturated": f"k = {k}, n = {n}, many |h| within 1e-3 of 1",
                 "stability": f"k = {k}, n = {n}, ‖W‖₂ = {STABILITY_RNN_NORM}: the gradient vanishes"}[regime]
        return (W, h, g), expected, self.magnitude(W, h, g), label

    @staticmethod
    def magnitude(W, h, g) -> float:
        squares = h * h
        factors = W.T[None] * (1.0 - squares)[:, None, :]
        # 1 - h² computed from a rounded h is off by ε(1 + h²), not ε(1 - h²).
        abs_factors = np.abs(W).T[None] * (1.0 + squares)[:, None, :]
        return product_error_scale(factors, abs_factors, g)

    @staticmethod
    def finite_difference(args) -> np.ndarray:
        """Central differences of L = ∇_{h^τ}L · h^τ with respect to h^{τ-k},
        running the RNN forward from h^{τ-k}. The input drive of each step is
        recovered from the given states, so the unperturbed run reproduces them."""
        W, h, g = (np.asarray(a, dtype=float) for a in args)
        start = np.zeros(W.shape[0])
        drive = np.arctanh(h) - np.vstack([start, h[:-1]]) @ W.T

        def loss(state):
            for u in drive:
                state = np.tanh(W @ state + u)
            return float(g @ state)

        out = np.empty_like(start)
        for j in range(out.size):
            step = np.zeros_like(start)
            step[j] = FD_STEP
            out[j] = (loss(start + step) - loss(start - step)) / (2 * FD_STEP)
        return out


class RNNNormBound:
    """``rnn_norm_bound(W, k) -> float``: eq. (2), ‖W‖₂^k (max_x |1 - tanh²x|)^k."""

    regimes = ("ordinary", "stability")
    phrases = {"stability": "for k = 1000, with ‖W‖₂ on either side of 1"}
    supports_gradcheck = False

    def case(self, rng, regime: str):
        n = int(rng.integers(2, 6))
        if regime == "stability":
            k = STABILITY_T
            # Both sides of 1: a bound that vanishes and one that grows to ~1e176.
            top = float(rng.uniform(0.8, 0.99) if rng.random() < 0.5 else rng.uniform(1.01, 1.5))
        else:
            k, top = int(rng.integers(1, 21)), float(rng.uniform(0.5, 1.5))
        W = _with_singular_values(rng, n, top)
        expected = rnn_norm_bound(W, k)
        # ‖W‖₂ from an SVD is good to a few nε relative; the k-th power multiplies that by k.
        magnitude = (k * (n + 2) + 1) * expected
        return (W, k), expected, magnitude, f"n = {n}, k = {k}, ‖W‖₂ = {top:.3g}"


def _lstm_params(rng, regime: str, n: int) -> LSTMParams:
    if regime == "stability":
        return LSTMParams.random(n, 2, 1, rng, scale=0.1, forget_bias=FORGET_BIAS, input_bias=INPUT_BIAS)
    params = LSTMParams.random(n, 2, 1, rng, scale=0.8).to_dict()
    if regime == "saturated":
        for name in ("b_f", "b_i", "b_o", "b_c"):
            params[name] = params[name] + rng.choice([-1.0, 1.0], size=n) * rng.uniform(*SATURATED_SHIFT, size=n)
    return LSTMParams.from_dict(params)


def _lstm_run(rng, regime: str, n: int, T: int):
    params = _lstm_params(rng, regime, n)
    return params, lstm_forward(params, rng.normal(size=(T, 2)), rng.normal(size=n), rng.normal(size=n))


LSTM_LABELS = {"ordinary": "", "saturated": ", gates saturated (|pre-activation| 8…30)",
               "stability": ", forget gates ≈ 1 and input gates ≈ 0"}


class LSTMCellPathGradient:
    """``lstm_cell_path_gradient(e, s_tau, o_tau, grad_h_tau) -> (n,)``: eq. (3)
    with c = 0, ∏_i diag(e^{τ-k+i}) diag(1 - tanh²s^τ) diag(o^τ) ∇_{h^τ}L, with
    e (k, n) holding the forget gates e^{τ-k+1}, ..., e^τ row by row."""

    regimes = ("ordinary", "saturated", "stability")
    supports_gradcheck = False

    def case(self, rng, regime: str):
        n = int(rng.integers(2, 6))
        k = STABILITY_T if regime == "stability" else int(rng.integers(1, 11))
        _, trace = _lstm_run(rng, regime, n, k)
        e, s_tau, o_tau = np.array(trace.f), np.array(trace.C[-1]), np.array(trace.o[-1])
        g = rng.normal(size=n)
        expected = lstm_cell_path_gradient(e, s_tau, o_tau, g)
        # k + 3 roundings of a product of positive factors; 1 - tanh² from a rounded
        # tanh is off by ε(1 + tanh²).
        terms = np.prod(e, axis=0) * (1.0 + np.tanh(s_tau) ** 2) * o_tau * np.abs(g)
        return (e, s_tau, o_tau, g), expected, (k + 4) * terms, f"k = {k}, n = {n}" + LSTM_LABELS[regime]


class LSTMCellBound:
    """``lstm_cell_bound(J, e) -> (path_norm, c_norm, bound)``: eq. (4) for a
    given total Jacobian J = ∂s^τ/∂s^{τ-k} (n, n) and forget gates e (k, n):
    ‖∏ diag(e)‖₂, ‖c‖₂ with c = J - ∏ diag(e), and ‖c‖₂ + sup|tanh|^k."""

    regimes = ("ordinary", "saturated", "stability")
    supports_gradcheck = False

    def __init__(self, outputs=()):
        # ``outputs`` only names the tuple's items in the grader's messages.
        self.outputs = tuple(outputs)

    def case(self, rng, regime: str):
        n = int(rng.integers(2, 5))
        k = STABILITY_T if regime == "stability" else int(rng.integers(1, 7))
        # One step more than k so that s^{τ-k} is a computed state whose h^{τ-k}
        # moves with it: every gate path of seed 001 is in J.
        tau = k + 1 + (0 if regime == "stability" else int(rng.integers(0, 3)))
        params, trace = _lstm_run(rng, regime, n, tau)
        J = cell_jacobian(params, trace, tau, k)
        e = np.array(trace.f[tau - k:tau])
        expected = self.reference(J, cell_path_factor(trace, tau, k), k)
        # The student's ∏e (from rounded gates) and the reference's (from the
        # pre-activations) agree to ~kε; the SVD adds a few nε of ‖c‖.
        path_scale = (k + 2) * expected[0]
        c_scale = (k + n + 4) * (float(np.linalg.norm(J, 2)) + expected[0])
        return (J, e), expected, (path_scale, c_scale, c_scale + 1.0), f"k = {k}, n = {n}" + LSTM_LABELS[regime]

    @staticmethod
    def reference(J: np.ndarray, path: np.ndarray, k: int) -> tuple[float, float, float]:
        """``lstm_cell_jacobian_bound`` from a Jacobian already computed: that
        function rebuilds J, which over 1,000 steps costs as much as the case."""
        c_norm = float(np.linalg.norm(J - np.diag(path), 2))
        return float(np.max(np.abs(path))), c_norm, c_norm + SUP_ABS_TANH ** k


# The student's parameters, in order, and the reference's symbols they stand for.
ONE_STEP_PARAMS = (("C_prev", "C_{t-1}"), ("o_prev", "o_{t-1}"), ("f_t", "f_{t}"), ("i_t", "i_{t}"),
                   ("Ct_t", r"\tilde{C}_{t}"), ("W_hf", "W^{hf}"), ("W_hi", "W^{hi}"), ("W_hc", "W^{hc}"))


@lru_cache(maxsize=None)
def _one_step_reference():
    """Seed 001's four-term ∂C_t/∂C_{t-1}, its symbols in the student's order,
    and its absolute form (the forward-error scale of evaluating it)."""

    expr = one_step_jacobian("lstm", "C")
    by_name = {s.name: s for s in expr.free_symbols}
    missing = [sym for _, sym in ONE_STEP_PARAMS if sym not in by_name]
    if missing:
        raise ValueError(f"the one-step Jacobian no longer depends on {missing}")
    return expr, tuple(by_name[sym] for _, sym in ONE_STEP_PARAMS), ev.abs_form(expr)


class OneStepCellJacobian:
    """``dC_dC_prev(C_prev, o_prev, f_t, i_t, Ct_t, W_hf, W_hi, W_hc) -> float``:
    the total ∂C_t/∂C_{t-1} of the scalar LSTM, through f_t, i_t, C̃_t (which see
    h_{t-1} = o_{t-1} tanh C_{t-1}) and directly, with o_{t-1} held fixed."""

    regimes = ("ordinary", "saturated", "stability")
    supports_gradcheck = True

    def case(self, rng, regime: str):
        w_hf, w_hi, w_hc = rng.normal(size=3)
        C_prev, z_o = 1.5 * rng.normal(), rng.normal()
        drive = rng.normal(size=3)   # W^{x·} x_t + W_0^· of the forget, input and candidate gates
        if regime == "saturated":
            drive += rng.choice([-1.0, 1.0], size=3) * rng.uniform(*SATURATED_SHIFT, size=3)
            z_o += rng.choice([-1.0, 1.0]) * rng.uniform(*SATURATED_SHIFT)
        elif regime == "stability":
            drive[:2] += (FORGET_BIAS, INPUT_BIAS)
        o_prev = float(sigmoid(z_o))
        h_prev = o_prev * np.tanh(C_prev)
        f_t = float(sigmoid(w_hf * h_prev + drive[0]))
        i_t = float(sigmoid(w_hi * h_prev + drive[1]))
        Ct_t = float(np.tanh(w_hc * h_prev + drive[2]))
        args = tuple(float(v) for v in (C_prev, o_prev, f_t, i_t, Ct_t, w_hf, w_hi, w_hc))
        expected, magnitude = self.reference(args)
        label = {"ordinary": "", "saturated": "gates saturated (|pre-activation| 8…30)",
                 "stability": "f_t ≈ 1, i_t ≈ 0"}[regime]
        return args, expected, magnitude, label

    @staticmethod
    def reference(args) -> tuple[float, float]:
        """The symbolic reference evaluated exactly at the given floats, and its magnitude."""
        expr, symbols, abs_form = _one_step_reference()
        exact = {s: mpmath.mpf(v) for s, v in zip(symbols, args)}
        exact["dps"] = ev.required_dps(args)
        value = float(ev.evaluate(expr, exact, exact=True))
        return value, float(ev.evaluate(abs_form, dict(zip(symbols, args))))

    @staticmethod
    def finite_difference(args) -> float:
        """Central difference of C_t with respect to C_{t-1} through the LSTM
        step itself: h_{t-1} = o_{t-1} tanh C_{t-1} feeds the three gates of step
        t, whose input drives are recovered from the given gate values."""
        C_prev, o_prev, f_t, i_t, Ct_t, w_hf, w_hi, w_hc = args
        h_prev = o_prev * np.tanh(C_prev)
        a_f = np.log(f_t / (1 - f_t)) - w_hf * h_prev
        a_i = np.log(i_t / (1 - i_t)) - w_hi * h_prev
        a_c = np.arctanh(Ct_t) - w_hc * h_prev

        def C_t(C):
            h = o_prev * np.tanh(C)
            return sigmoid(w_hf * h + a_f) * C + sigmoid(w_hi * h + a_i) * np.tanh(w_hc * h + a_c)

        step = FD_STEP * max(1.0, abs(C_prev))
        return float((C_t(C_prev + step) - C_t(C_prev - step)) / (2 * step))


TASKS = {
    "bptt_rnn_gradient": RNNGradientKStepsBack,
    "bptt_rnn_bound": RNNNormBound,
    "bptt_lstm_cell_path": LSTMCellPathGradient,
    "bptt_lstm_cell_bound": LSTMCellBound,
    "bptt_one_step_jacobian": OneStepCellJacobian,
}
