"""Tasks of the BPTT-products pack: seed 002's equations (1)-(4) and seed 001's one-step ∂C_t/∂C_{t-1}.

Every case is drawn from a real forward pass (vanilla RNN or LSTM), so the
hidden states, gates and cell states a student receives are ones a network
could produce. Only the leaves (weights, inputs, initial states, upstream
gradients, and the normal matrices random rotations are made from) come from
the generator; the forward passes, the rotations, every expected value and
spectral norm, the magnitudes and the finite differences are exact
(reference.exact, reference.symbolic evaluated in mpmath) and rounded to
float64 once, so no CPU's tanh, exp, BLAS or LAPACK decides a graded number.
Expected values are the references evaluated exactly at the very floats the
student receives. Magnitudes bound the rounding a correct float64 computation
may carry, whatever order it multiplies in, so that a correct answer passes at
saturation and over 1,000 steps while a transposed or reversed product does not.
"""
from __future__ import annotations

import math
from functools import lru_cache

import mpmath
import numpy as np

from reference import one_step_jacobian
from reference.exact import packed as lstm_exact
from reference.exact import rnn as exact
from reference.symbolic import evaluate as ev

from ..regimes import FORGET_BIAS, INPUT_BIAS, NOTES, SATURATED_SHIFT, STABILITY_T
from .base import TaskCase, distinct, draw_testable

STABILITY_RNN_NORM = 0.9
LSTM_INPUTS = 2


def _scaled_orthogonal(rng, n: int, scale: float = 1.0) -> list:
    """scale · a random rotation, exact (mpf rows). With det +1 and n >= 3 it is
    (almost surely) not symmetric, so W and Wᵀ give different products."""
    Q = exact.orthogonal(rng.normal(size=(n, n)).tolist())
    with mpmath.workdps(exact.DPS):
        return [[scale * v for v in row] for row in Q]


def _with_singular_values(rng, n: int, top: float) -> np.ndarray:
    """A non-symmetric matrix whose largest singular value is ``top`` and whose
    others lie in (0.3, 0.9)·top: its Frobenius norm and spectral radius are then
    both clearly different from its spectral norm. Formed exactly, rounded once."""
    values = [top, *(top * rng.uniform(0.3, 0.9, size=n - 1)).tolist()]
    U, V = _scaled_orthogonal(rng, n), _scaled_orthogonal(rng, n)
    with mpmath.workdps(exact.DPS):
        scaled = [[u * s for u, s in zip(row, values)] for row in U]
        return exact.to_float(exact.matmul(scaled, exact.transpose(V)))


def _rnn_sequence(rng, regime: str):
    """W (n, n), the hidden states h_1..h_T (T, n) of an exact forward pass, and T."""
    n = int(rng.integers(3, 6))
    if regime == "stability":
        T = STABILITY_T
        # A scaled rotation has every singular value 0.9, so the product shrinks
        # like 0.9^k: vanished by k = 1000 yet still far from underflow.
        W = exact.to_float(_scaled_orthogonal(rng, n, STABILITY_RNN_NORM))
        U, b = 0.1 * rng.normal(size=(n, n)), 0.1 * rng.normal(size=n)
    elif regime == "saturated":
        T = int(rng.integers(3, 10))
        W, U = 2.5 * rng.normal(size=(n, n)), rng.normal(size=(n, n))
        b = rng.choice([-1.0, 1.0], size=n) * rng.uniform(3.0, 8.0, size=n)
    else:
        T = int(rng.integers(2, 9))
        W, U, b = rng.normal(size=(n, n)) / math.sqrt(n), 0.3 * rng.normal(size=(n, n)), 0.2 * rng.normal(size=n)
    h = exact.to_float(exact.rnn_forward(W, U, b, rng.normal(size=(T, n)), 0.5 * rng.normal(size=n)))
    return W, h, T


class _Task:
    phrases: dict = {}

    def case(self, rng, regime: str) -> TaskCase:
        return draw_testable(self._draw, rng, regime)


class RNNGradientKStepsBack(_Task):
    """``rnn_grad_k_steps_back(W, h, grad_h_tau) -> (n,)``: eq. (1),
    [∏_{i=1}^k W^T diag(1 - (h^{τ-k+i})²)] ∇_{h^τ}L, with h (k, n) holding
    h^{τ-k+1}, ..., h^τ row by row."""

    regimes = ("ordinary", "saturated", "stability")
    layouts: dict = {}
    # A vanilla RNN has no gates: its saturated and long cases read differently.
    phrases = {"saturated": "when the hidden units saturate (|h| near 1)",
               "stability": "over k = 1000 steps with ‖W‖₂ = 0.9, where the gradient vanishes"}
    supports_gradcheck = True

    def _draw(self, rng, regime: str) -> TaskCase:
        W, h, k = _rnn_sequence(rng, regime)
        n = W.shape[0]
        g = rng.normal(size=n)
        expected = exact.to_float(exact.grad_k_steps_back(W, h, g))
        magnitude = self.magnitude(W, h, g)
        others = [("without the diag(1 - h²) factors", exact.grad_k_steps_back(W, h, g, tanh_factor=False)),
                  ("with W in place of Wᵀ", exact.grad_k_steps_back(W, h, g, transpose_W=False)),
                  ("with the factors in reverse order (the one holding h^τ leftmost)",
                   exact.grad_k_steps_back(W, h[::-1], g))]
        label = {"ordinary": f"k = {k}, n = {n}",
                 "saturated": f"k = {k}, n = {n}, many |h| within 1e-3 of 1",
                 "stability": f"k = {k}, n = {n}, ‖W‖₂ = {STABILITY_RNN_NORM}: the gradient vanishes"}[regime]
        dropped = distinct(expected, magnitude, [(name, exact.to_float(v)) for name, v in others])
        return TaskCase((W, h, g), expected, magnitude, label, cost=k, dropped=dropped)

    @staticmethod
    def magnitude(W, h, g) -> float:
        """Scale of the rounding error of F_1 ⋯ F_k g (F_i = Wᵀ diag(1 - h_i²)) in
        float64, for the usual evaluation orders (vector from the right, matrices
        from the left or from the right): (n + 3) Σ_i ‖F_1⋯F_{i-1}‖ ‖A_i‖
        ‖F_{i+1}⋯F_k‖ ‖g‖, where A_i = |W|ᵀ diag(1 + h_i²) bounds the error of
        forming and applying F_i (1 - h² from a rounded h is off by ε(1 + h²),
        not ε(1 - h²)). Frobenius norms: they bound the spectral ones and need no
        eigenvalues over 1,000 steps. A componentwise |F_1|⋯|F_k| would grow like
        ‖|W|‖^k and swamp a vanishing product; the true partial products do not."""
        n = len(g)
        prefix, suffix = exact.prefix_suffix_norms(exact.product_factors(W, h))
        absW_T = exact.transpose(exact.exact(np.abs(W)))
        with mpmath.workdps(exact.DPS):
            total = mpmath.mpf(0)
            for p, s, d in zip(prefix, suffix, exact.exact(h)):
                growth = [[w * (1 + v * v) for w, v in zip(row, d)] for row in absW_T]
                total += p * exact.frobenius_norm(growth) * s
            return exact.to_float((n + 3) * total * exact.vector_norm(exact.exact(g)))

    @staticmethod
    def finite_difference(args) -> np.ndarray:
        """Central differences of L = ∇_{h^τ}L · h^τ with respect to h^{τ-k},
        running the exact RNN forward from h^{τ-k}."""
        W, h, g = (np.asarray(a, dtype=float) for a in args)
        return exact.to_float(exact.rnn_state_difference(W, h, g))


class RNNNormBound(_Task):
    """``rnn_norm_bound(W, k) -> float``: eq. (2), ‖W‖₂^k (max_x |1 - tanh²x|)^k."""

    regimes = ("ordinary", "stability")
    layouts: dict = {}
    phrases = {"stability": "for k = 1000, with ‖W‖₂ on either side of 1"}
    supports_gradcheck = False

    def _draw(self, rng, regime: str) -> TaskCase:
        n = int(rng.integers(2, 6))
        if regime == "stability":
            k = STABILITY_T
            # Both sides of 1: a bound that vanishes and one that grows to ~1e176.
            top = float(rng.uniform(0.8, 0.99) if rng.random() < 0.5 else rng.uniform(1.01, 1.5))
        else:
            k, top = int(rng.integers(1, 21)), float(rng.uniform(0.5, 1.5))
        W = _with_singular_values(rng, n, top)
        bound = exact.norm_bound(W, k)
        # ‖W‖₂ from an SVD is good to a few nε relative; the k-th power multiplies that by k.
        with mpmath.workdps(exact.DPS):
            magnitude = exact.to_float((k * (n + 2) + 1) * bound)
        return TaskCase((W, k), exact.to_float(bound), magnitude, f"n = {n}, k = {k}, ‖W‖₂ = {top:.3g}", cost=1)


def _lstm_leaves(rng, regime: str, n: int, T: int) -> tuple:
    """(x, h0, c0, Wx, Wh, b) of an n-unit LSTM in the packed layout, one sequence
    of T steps with two inputs."""
    scale = 0.1 if regime == "stability" else 0.8
    Wx, Wh, b = (scale * rng.normal(size=shape) for shape in ((LSTM_INPUTS, 4 * n), (n, 4 * n), (4 * n,)))
    if regime == "stability":
        b[:n] += INPUT_BIAS
        b[n:2 * n] += FORGET_BIAS
    elif regime == "saturated":
        b += rng.choice([-1.0, 1.0], size=4 * n) * rng.uniform(*SATURATED_SHIFT, size=4 * n)
    return rng.normal(size=(1, T, LSTM_INPUTS)), rng.normal(size=(1, n)), rng.normal(size=(1, n)), Wx, Wh, b


def _lstm_trace(leaves, fx):
    """The exact forward pass of ``leaves`` at precision ``fx``, and Wh."""
    X, H0, C0, WX, WH, B = (lstm_exact.array(fx, a) for a in leaves)
    return lstm_exact.forward(fx, X, H0, WX, WH, B, c0=C0), WH


def _lstm_exactly(leaves, compute):
    """``compute(fx, trace, Wh)`` for the forward pass of ``leaves``, at a finer
    precision while one of its certified roundings is not resolved."""
    x, h0, c0, Wx, Wh, b = leaves
    return lstm_exact.exactly(lambda fx: compute(fx, *_lstm_trace(leaves, fx)),
                              lstm_exact.precision(x=x, h=h0, c=c0, Wx=Wx, Wh=Wh, b=b))


def _label(regime: str, k: int, n: int) -> str:
    return f"k = {k}, n = {n}" + NOTES[regime]


class LSTMCellPathGradient(_Task):
    """``lstm_cell_path_gradient(e, s_tau, o_tau, grad_h_tau) -> (n,)``: eq. (3)
    with c = 0, ∏_i diag(e^{τ-k+i}) diag(1 - tanh²s^τ) diag(o^τ) ∇_{h^τ}L, with
    e (k, n) holding the forget gates e^{τ-k+1}, ..., e^τ row by row."""

    regimes = ("ordinary", "saturated", "stability")
    layouts: dict = {}
    supports_gradcheck = False
    DROPS = (("without diag(o^τ)", "output"), ("without diag(1 - tanh² s^τ)", "tanh"),
             ("without the forget gates ∏ diag(e)", "forget"))

    def _draw(self, rng, regime: str) -> TaskCase:
        n = int(rng.integers(2, 6))
        k = STABILITY_T if regime == "stability" else int(rng.integers(1, 11))
        e, s_tau, o_tau = _lstm_exactly(_lstm_leaves(rng, regime, n, k), lambda fx, trace, _: tuple(
            lstm_exact.floats(fx, v, certify=True)
            for v in (trace.block("gate", 1)[:, 0], trace.next_c[-1, 0], trace.block("gate", 2)[-1, 0])))
        g = rng.normal(size=n)
        args = (e, s_tau, o_tau, g)
        expected = exact.to_float(exact.cell_path_gradient(*args))
        others = [(name, exact.to_float(exact.cell_path_gradient(*args, drop={path}))) for name, path in self.DROPS]
        magnitude = self.magnitude(*args)
        return TaskCase(args, expected, magnitude, _label(regime, k, n), cost=k,
                        dropped=distinct(expected, magnitude, others))

    @staticmethod
    def magnitude(e, s_tau, o_tau, g) -> np.ndarray:
        """k + 3 roundings of a product of positive factors, and 1 - tanh² from a
        rounded tanh is off by ε(1 + tanh²): (k + 4) ∏e (1 + tanh² s) o |g|."""
        path = exact.forget_product(e)
        with mpmath.workdps(exact.DPS):
            return exact.to_float([(len(e) + 4) * p * (1 + mpmath.tanh(s) ** 2) * o * abs(gi)
                                   for p, s, o, gi in zip(path, *(exact.exact(a) for a in (s_tau, o_tau, g)))])


class LSTMCellBound(_Task):
    """``lstm_cell_bound(J, e) -> (path_norm, c_norm, bound)``: eq. (4) for a
    given total Jacobian J = ∂s^τ/∂s^{τ-k} (n, n) and forget gates e (k, n):
    ‖∏ diag(e)‖₂, ‖c‖₂ with c = J - ∏ diag(e), and ‖c‖₂ + sup|tanh|^k."""

    regimes = ("ordinary", "saturated", "stability")
    layouts: dict = {}
    supports_gradcheck = False

    def __init__(self, outputs=()):
        # ``outputs`` only names the tuple's items in the grader's messages.
        self.outputs = tuple(outputs)

    def _draw(self, rng, regime: str) -> TaskCase:
        n = int(rng.integers(2, 5))
        k = STABILITY_T if regime == "stability" else int(rng.integers(1, 7))
        # One step more than k so that s^{τ-k} is a computed state whose h^{τ-k}
        # moves with it: every gate path of seed 001 is in J.
        tau = k + 1 + (0 if regime == "stability" else int(rng.integers(0, 3)))
        J, e = _lstm_exactly(_lstm_leaves(rng, regime, n, tau), lambda fx, trace, Wh: (
            lstm_exact.floats(fx, lstm_exact.cell_jacobian(fx, trace, Wh, tau, k), certify=True),
            lstm_exact.floats(fx, trace.block("gate", 1)[tau - k:tau, 0], certify=True)))
        path_norm, c_norm, bound = exact.cell_bound(J, e)
        expected = tuple(exact.to_float(v) for v in (path_norm, c_norm, bound))
        # The student's ∏e has k roundings; c = J - ∏ diag(e) then carries ε|J_ii| + kε∏e,
        # and a spectral norm from an SVD a few nε of ‖J‖₂ + ‖∏e‖.
        with mpmath.workdps(exact.DPS):
            path_scale = (k + 2) * path_norm
            c_scale = (k + n + 4) * (exact.spectral_norm(exact.exact(J)) + path_norm)
            magnitude = tuple(exact.to_float(v) for v in (path_scale, c_scale, c_scale + 1))
        last = e[-1:]
        others = [("‖J‖₂ in place of ‖c‖₂: the cell path ∏ diag(e) not subtracted",
                   exact.cell_bound(J, e, subtract=False)),
                  ("the bound without the sup|tanh|^k term", (path_norm, c_norm, c_norm)),
                  ("the cell path of the last forget gate only", exact.cell_bound(J, last))]
        others = [(name, tuple(exact.to_float(v) for v in value)) for name, value in others]
        return TaskCase((J, e), expected, magnitude, _label(regime, k, n), cost=k,
                        dropped=distinct(expected, magnitude, others))

    @staticmethod
    def reference(J: np.ndarray, e: np.ndarray) -> tuple[float, float, float]:
        """(path_norm, c_norm, bound) exactly at the floats J, e, rounded once."""
        return tuple(exact.to_float(v) for v in exact.cell_bound(J, e))


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


def _with(args: tuple, **values) -> tuple:
    names = [name for name, _ in ONE_STEP_PARAMS]
    out = list(args)
    for name, v in values.items():
        out[names.index(name)] = v
    return tuple(out)


class OneStepCellJacobian(_Task):
    """``dC_dC_prev(C_prev, o_prev, f_t, i_t, Ct_t, W_hf, W_hi, W_hc) -> float``:
    the total ∂C_t/∂C_{t-1} of the scalar LSTM, through f_t, i_t, C̃_t (which see
    h_{t-1} = o_{t-1} tanh C_{t-1}) and directly, with o_{t-1} held fixed."""

    regimes = ("ordinary", "saturated", "stability")
    layouts: dict = {}
    supports_gradcheck = True
    # The answer with one path left out, as the reference with that path's weight
    # (or o_{t-1}) set: the common misconception first.
    DROPS = (("f_t alone, without the paths through the gates", dict(W_hf=0.0, W_hi=0.0, W_hc=0.0)),
             ("without o_{t-1} in h_{t-1} = o_{t-1} tanh C_{t-1}", dict(o_prev=1.0)),
             ("without the path through the candidate C̃_t", dict(W_hc=0.0)))

    def _draw(self, rng, regime: str) -> TaskCase:
        w_hf, w_hi, w_hc = rng.normal(size=3).tolist()
        C_prev, z_o = 1.5 * float(rng.normal()), float(rng.normal())
        drive = rng.normal(size=3)   # W^{x·} x_t + W_0^· of the forget, input and candidate gates
        if regime == "saturated":
            drive += rng.choice([-1.0, 1.0], size=3) * rng.uniform(*SATURATED_SHIFT, size=3)
            # The forget gate saturates towards 0 only: at f_t = 1 - 1e-13 the answer
            # is 1 to 13 digits and `return 1`, the misconception this question is
            # about, could not fail. f ≈ 1 is the stability regime's (1 - 3e-7).
            drive[0] = -abs(drive[0])
            z_o += float(rng.choice([-1.0, 1.0]) * rng.uniform(*SATURATED_SHIFT))
        elif regime == "stability":
            drive[:2] += (FORGET_BIAS, INPUT_BIAS)
        drive = drive.tolist()
        dps = ev.required_dps([C_prev, z_o, *drive, w_hf, w_hi, w_hc])
        with mpmath.workdps(dps):
            o_prev = exact.sigmoid(mpmath.mpf(z_o))
            h_prev = o_prev * mpmath.tanh(C_prev)
            f_t = exact.sigmoid(w_hf * h_prev + drive[0])
            i_t = exact.sigmoid(w_hi * h_prev + drive[1])
            Ct_t = mpmath.tanh(w_hc * h_prev + drive[2])
            gates = [exact.to_float(v) for v in (o_prev, f_t, i_t, Ct_t)]
        args = (C_prev, gates[0], gates[1], gates[2], gates[3], w_hf, w_hi, w_hc)
        expected, magnitude = self.reference(args)
        others = [(name, self.reference(_with(args, **values))[0]) for name, values in self.DROPS]
        label = {"ordinary": "", "saturated": "gates saturated (|pre-activation| 8…30)",
                 "stability": "f_t ≈ 1, i_t ≈ 0"}[regime]
        return TaskCase(args, expected, magnitude, label, cost=1, dropped=distinct(expected, magnitude, others))

    @staticmethod
    def reference(args) -> tuple[float, float]:
        """The symbolic reference and its absolute form (the magnitude), both
        evaluated exactly at the given floats and rounded once."""
        expr, symbols, abs_form = _one_step_reference()
        env = {s: mpmath.mpf(v) for s, v in zip(symbols, args)}
        env["dps"] = ev.required_dps(args)
        return (exact.to_float(ev.evaluate(expr, env, exact=True)),
                exact.to_float(ev.evaluate(abs_form, env, exact=True)))

    @staticmethod
    def finite_difference(args) -> float:
        """Central difference of C_t with respect to C_{t-1} through the LSTM step
        itself, exactly: h_{t-1} = o_{t-1} tanh C_{t-1} feeds the three gates of
        step t, whose input drives are recovered from the given gate values."""
        C_prev, o_prev, f_t, i_t, Ct_t, w_hf, w_hi, w_hc = (mpmath.mpf(float(a)) for a in args)

        def loss(delta):
            h_prev = o_prev * mpmath.tanh(C_prev)
            a_f = mpmath.log(f_t / (1 - f_t)) - w_hf * h_prev
            a_i = mpmath.log(i_t / (1 - i_t)) - w_hi * h_prev
            a_c = mpmath.atanh(Ct_t) - w_hc * h_prev
            C = C_prev + delta
            h = o_prev * mpmath.tanh(C)
            return (exact.sigmoid(w_hf * h + a_f) * C + exact.sigmoid(w_hi * h + a_i) * mpmath.tanh(w_hc * h + a_c))

        return exact.to_float(exact.central_difference(loss))


TASKS = {
    "bptt_rnn_gradient": RNNGradientKStepsBack,
    "bptt_rnn_bound": RNNNormBound,
    "bptt_lstm_cell_path": LSTMCellPathGradient,
    "bptt_lstm_cell_bound": LSTMCellBound,
    "bptt_one_step_jacobian": OneStepCellJacobian,
}
