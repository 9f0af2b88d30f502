"""Tasks of the packed LSTM layout (x @ Wx + h @ Wh + b, gates i, f, o, g).

The student's functions keep the course materials' names and signatures. A
forward's cache is whatever the student likes and cannot leave the sandbox,
so every question is graded through a driver of the pack's helpers that runs
the student's forward and hands its cache to the student's backward; the
tasks below only ever see plain arrays.

Only the leaves (weights, inputs, initial states, upstream gradients) come
from the generator. Expected values, error scales, the answers with one path
dropped and the finite differences all come from reference.exact.packed
(exact fixed-point arithmetic, no NumPy kernel involved), rounded to float64
once: the same bits on every CPU.

Magnitudes are first-order running error bounds of a correct float64 code:
every operation adds rounding at the scale of its absolute-value form, and
errors made earlier travel on with the true factors (|σ'(a)|, |tanh'|, |f|),
so that they stay meaningful over 1,000 steps with saturated gates.
"""
from __future__ import annotations

import numpy as np

from reference.exact import packed as exact

from ..regimes import FORGET_BIAS, INPUT_BIAS, NOTES, SHIFTS, STABILITY_T
from .base import TaskCase, distinct, draw_testable


def draw_problem(rng, regime: str, sequence: bool):
    """(x, h0, Wx, Wh, b) for a step ((N, D) input) or a sequence ((N, T, D)).
    D and H differ, so Wx and Wh (or a transposed product) cannot be mixed up silently."""
    N = int(rng.integers(2, 4))
    H = int(rng.integers(2, 5))
    D = int(rng.choice([k for k in (2, 3, 4, 5) if k != H]))
    scale = 0.1 if regime == "stability" else 0.8
    Wx, Wh, b = (scale * rng.normal(size=shape) for shape in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    if regime == "stability":
        b[:H] += INPUT_BIAS
        b[H:2 * H] += FORGET_BIAS
    elif regime in SHIFTS:
        # each unit of each gate on its own side, so σ ≈ 0 and σ ≈ 1 both occur
        shift = rng.choice([-1.0, 1.0], size=4 * H) * rng.uniform(*SHIFTS[regime], size=4 * H)
        if regime == "extreme":
            # Half the units only: with every gate at |a| ≥ 200 all of dx, dWx, ... is
            # below 1e-87, where a correct value-form answer (σ' as 1.0·(1 - 1.0)) is 0
            # and cannot be told from `return 0`. The units left alone keep the
            # answer testable; the others still probe exp overflow at |a| = 1000.
            shift *= rng.random(4 * H) < 0.5
            # exp overflows past 709: one sigmoid unit (i, f or o) is always pushed to
            # -800…-1000 and one to +800…+1000, so a naive 1 / (1 + exp(-a)) meets
            # its overflow at every extreme case, whatever the draw above did.
            low, high = rng.choice(3 * H, size=2, replace=False)
            shift[low], shift[high] = -rng.uniform(800.0, 1000.0), rng.uniform(800.0, 1000.0)
        b += shift
    if sequence:
        T = STABILITY_T if regime == "stability" else int(rng.integers(2, 7))
        x = rng.normal(size=(N, T, D))
    else:
        x = rng.normal(size=(N, D))
    return x, rng.normal(size=(N, H)), Wx, Wh, b


def _label(regime: str, x: np.ndarray, H: int) -> str:
    sizes = f"N = {x.shape[0]}, D = {x.shape[-1]}, H = {H}"
    if x.ndim == 3:
        sizes = f"T = {x.shape[1]}, " + sizes
    return sizes + NOTES[regime]


def _blocks(a, H):
    return [a[..., k * H:(k + 1) * H] for k in range(4)]


# -- error scales ---------------------------------------------------------------

def forward_error_scale(fx: exact.Fixed, trace: exact.Trace, Wx, Wh, b):
    """Error scales (fixed point, (T, N, H)) of every next_h and next_c of a run
    from exact inputs: a = x Wx + h Wh + b carries its own rounding and the error
    of h through |Wh|; a gate adds its own and passes the error of a on with its
    true slope; errors of c travel on with f."""
    T, N, H = trace.next_h.shape
    aWh = np.abs(Wh)
    v = np.abs(trace.gate)
    e_a = fx.round(np.abs(trace.x).reshape(T * N, -1) @ np.abs(Wx)
                   + np.abs(trace.prev_h).reshape(T * N, H) @ aWh).reshape(T, N, 4 * H) + np.abs(b)
    i, f, o, g = _blocks(v, H)
    prev_c, tanh_c = np.abs(trace.prev_c), np.abs(trace.tanh_c)
    c_own, h_own, through = f * prev_c + i * g, o * tanh_c, o * trace.dtanh_c      # 2^-2bits
    e_h = e_c = exact.zeros((N, H))
    hs, cs = np.empty((T, N, H), dtype=object), np.empty((T, N, H), dtype=object)
    for t in range(T):
        e_gate = v[t] + fx.round(trace.slope[t] * (e_a[t] + exact.dot(fx, e_h, aWh)))
        ei, ef, eo, eg = _blocks(e_gate, H)
        e_c = fx.round(f[t] * e_c + c_own[t] + prev_c[t] * ef + g[t] * ei + i[t] * eg)
        e_h = fx.round(h_own[t] + tanh_c[t] * eo) + fx.round(through[t] * e_c, 2 * fx.bits)
        hs[t], cs[t] = e_h, e_c
    return hs, cs


def backward_error_scale(fx: exact.Fixed, trace: exact.Trace, grads: exact.Gradients, Wx, Wh):
    """Error scales (fixed point) of (dx (N, T, D), dprev_h, dprev_c, dWx, dWh, db)
    of a value-form backward (σ' as a(1 - a), tanh' as 1 - t²) over ``trace``;
    ``grads`` holds the true gradients, which the errors need."""
    T, N, H = trace.next_h.shape
    b2 = 2 * fx.bits
    v = np.abs(trace.gate)
    i, f, o, g = _blocks(trace.gate, H)
    factor = np.abs(np.concatenate([g, trace.prev_c, trace.tanh_c, i], axis=2))
    # the value forms' own rounding: a(1 - a) is off by ε·a(1 + a), 1 - t² by ε(1 + t²)
    abs_slope = np.concatenate([v[..., :3 * H] + fx.mul(v[..., :3 * H], v[..., :3 * H]),
                                fx.one + fx.mul(v[..., 3 * H:], v[..., 3 * H:])], axis=2)
    err_factor = trace.slope * factor                                              # 2^-2bits
    dh, dc = np.abs(grads.dh), np.abs(grads.dc)
    up = np.concatenate([dc, dc, dh, dc], axis=2)
    own = (err_factor + abs_slope * factor) * up                                  # 2^-3bits
    through = np.abs(o) * trace.dtanh_c
    fixed_dc = np.abs(grads.dnext_c) + fx.round(np.abs(o) * (fx.one + fx.mul(trace.tanh_c, trace.tanh_c)) * dh, b2)
    aWh_T, f = np.abs(Wh).T, np.abs(f)
    e_h = e_c = exact.zeros((N, H))
    total = np.empty((T, N, 4 * H), dtype=object)
    for t in range(T - 1, -1, -1):
        e_dc = e_c + fixed_dc[t] + fx.round(through[t] * e_h, b2)
        up_err = np.concatenate([e_dc, e_dc, e_h, e_dc], axis=1)
        total[t] = fx.round(err_factor[t] * up_err + own[t], b2)
        e_h = exact.dot(fx, total[t], aWh_T)
        e_c = fx.mul(f[t], e_dc + dc[t])
    flat = total.reshape(T * N, 4 * H)
    dx = exact.dot(fx, flat, np.abs(Wx).T).reshape(T, N, -1).transpose(1, 0, 2)
    dWx = exact.dot(fx, np.abs(trace.x).reshape(T * N, -1).T, flat)
    dWh = exact.dot(fx, np.abs(trace.prev_h).reshape(T * N, H).T, flat)
    return dx, e_h, e_c, dWx, dWh, flat.sum(axis=0)


# -- tasks ------------------------------------------------------------------------

# The packed 4H axis holds the gate blocks i, f, o, g; a wrong array names the block
# (and, along a sequence, the first time step) that is wrong.
GATE_AXIS = "gates:ifog"


class _Task:
    n_outputs = 0
    layouts: dict = {}
    phrases: dict = {}

    def __init__(self, outputs=()):
        if outputs and len(outputs) != self.n_outputs:
            raise ValueError(f"{type(self).__name__} has {self.n_outputs} outputs; outputs names {len(outputs)}")

    def case(self, rng, regime: str) -> TaskCase:
        return draw_testable(self._draw, rng, regime)


def _rounded(quotients) -> np.ndarray:
    """Exact difference quotients (Fractions), each rounded once to float64."""
    return np.array([float(q) for q in quotients.ravel().tolist()], dtype=np.float64).reshape(quotients.shape)


def _floats(fx, values, certify=False) -> tuple:
    return tuple(exact.floats(fx, v, certify) for v in values)


class StepForward(_Task):
    """``lstm_step_forward`` graded on (next_h, next_c)."""

    regimes = ("ordinary", "saturated", "extreme")
    supports_gradcheck = False
    n_outputs = 2
    DROPS = (("next_c without the forget gate (prev_c where f * prev_c belongs)", "forget"),
             ("next_h without the output gate (tanh(next_c) where o * tanh(next_c) belongs)", "output"),
             ("next_c without the input gate (g where i * g belongs)", "input"))

    def _draw(self, rng, regime: str) -> TaskCase:
        x, prev_h, Wx, Wh, b = draw_problem(rng, regime, sequence=False)
        prev_c = rng.normal(size=prev_h.shape)
        args = (x, prev_h, prev_c, Wx, Wh, b)

        def compute(fx):
            X, Hp, Cp, WX, WH, B = (exact.array(fx, a) for a in args)

            def run(drop=frozenset()):
                return exact.forward(fx, X[:, None], Hp, WX, WH, B, c0=Cp, drop=drop)

            trace = run()
            hs, cs = forward_error_scale(fx, trace, WX, WH, B)
            others = [(name, _floats(fx, (tr.next_h[0], tr.next_c[0])))
                      for name, tr in ((name, run({path})) for name, path in self.DROPS)]
            return (_floats(fx, (trace.next_h[0], trace.next_c[0]), certify=True), _floats(fx, (hs[0], cs[0])),
                    others)

        fx = exact.precision(x=x, h=prev_h, c=prev_c, Wx=Wx, Wh=Wh, b=b)
        expected, magnitude, others = exact.exactly(compute, fx)
        return TaskCase(args, expected, magnitude, _label(regime, x, prev_h.shape[1]), cost=x.shape[0],
                        dropped=distinct(expected, magnitude, others))


class StepBackward(_Task):
    """``lstm_step_backward`` after the student's own ``lstm_step_forward``:
    (dx, dprev_h, dprev_c, dWx, dWh, db) for upstream dnext_h, dnext_c."""

    regimes = ("ordinary", "saturated", "extreme")
    supports_gradcheck = True
    n_outputs = 6
    layouts = {"dWx": (None, GATE_AXIS), "dWh": (None, GATE_AXIS), "db": (GATE_AXIS,)}
    DROPS = (("dprev_c without the forget gate (dc where dc * f belongs)", "forget"),
             ("the gradient on next_c without the path through next_h = o * tanh(next_c)", "h_path"),
             ("the gradient on next_c without the upstream dnext_c", "cell_carry"))

    def _draw(self, rng, regime: str) -> TaskCase:
        x, prev_h, Wx, Wh, b = draw_problem(rng, regime, sequence=False)
        prev_c, dnext_h, dnext_c = (rng.normal(size=prev_h.shape) for _ in range(3))
        args = (x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c)

        def compute(fx):
            X, Hp, Cp, WX, WH, B, DH, DC = (exact.array(fx, a) for a in args)
            trace = exact.forward(fx, X[:, None], Hp, WX, WH, B, c0=Cp)

            def outputs(grads):
                return (grads.dx[:, 0], grads.dh0, grads.dc0, grads.dWx, grads.dWh, grads.db)

            grads = exact.backward(fx, trace, WX, WH, DH[:, None], DC)
            scale = backward_error_scale(fx, trace, grads, WX, WH)
            others = [(name, _floats(fx, outputs(exact.backward(fx, trace, WX, WH, DH[:, None], DC, drop={path}))))
                      for name, path in self.DROPS]
            return (_floats(fx, outputs(grads), certify=True), _floats(fx, (scale[0][:, 0], *scale[1:])), others)

        fx = exact.precision(x=x, h=prev_h, c=prev_c, Wx=Wx, Wh=Wh, b=b)
        expected, magnitude, others = exact.exactly(compute, fx)
        return TaskCase(args, expected, magnitude, _label(regime, x, prev_h.shape[1]), cost=x.shape[0],
                        dropped=distinct(expected, magnitude, others))

    @staticmethod
    def finite_difference(args) -> tuple:
        x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c = (np.asarray(a, dtype=float) for a in args)
        dx, dh0, dc0, dWx, dWh, db = exact.finite_difference(x[:, None], prev_h, prev_c, Wx, Wh, b,
                                                             dnext_h[:, None], dnext_c)
        return tuple(_rounded(v) for v in (dx[:, 0], dh0, dc0, dWx, dWh, db))


class SequenceForward(_Task):
    """``lstm_forward`` graded on h (N, T, H); the initial cell is zero."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    supports_gradcheck = False
    n_outputs = 1
    layouts = {"": (None, "time", None)}
    DROPS = (("h with the cell state not carried between steps (next_c = i * g)", "cell_carry"),
             ("h without the recurrent input prev_h @ Wh", "recurrent"))

    def _draw(self, rng, regime: str) -> TaskCase:
        x, h0, Wx, Wh, b = draw_problem(rng, regime, sequence=True)
        args = (x, h0, Wx, Wh, b)

        def compute(fx):
            X, H0, WX, WH, B = (exact.array(fx, a) for a in args)
            trace = exact.forward(fx, X, H0, WX, WH, B)
            hs, _ = forward_error_scale(fx, trace, WX, WH, B)
            others = [(name, exact.floats(fx, exact.forward(fx, X, H0, WX, WH, B, drop={path}).h))
                      for name, path in self.DROPS]
            return exact.floats(fx, trace.h, True), exact.floats(fx, hs.transpose(1, 0, 2)), others

        fx = exact.precision(x=x, h=h0, c=0 * h0, Wx=Wx, Wh=Wh, b=b)
        expected, magnitude, others = exact.exactly(compute, fx)
        return TaskCase(args, expected, magnitude, _label(regime, x, h0.shape[1]), cost=x.shape[0] * x.shape[1],
                        dropped=distinct(expected, magnitude, others))


class SequenceBackward(_Task):
    """``lstm_backward`` after the student's own ``lstm_forward``:
    (dx, dh0, dWx, dWh, db) for an upstream gradient dh on every hidden state."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    supports_gradcheck = True
    n_outputs = 5
    layouts = {"dx": (None, "time", None), "dWx": (None, GATE_AXIS), "dWh": (None, GATE_AXIS), "db": (GATE_AXIS,)}
    DROPS = (("without the recurrent path: dprev_h not added to the upstream dh of the step before", "recurrent"),
             ("dprev_c not carried back to the step before", "cell_carry"),
             ("dprev_c carried back without the forget gate (dc where dc * f belongs)", "forget"))

    def _draw(self, rng, regime: str) -> TaskCase:
        x, h0, Wx, Wh, b = draw_problem(rng, regime, sequence=True)
        dh = rng.normal(size=x.shape[:2] + (h0.shape[1],))
        args = (x, h0, Wx, Wh, b, dh)

        def compute(fx):
            X, H0, WX, WH, B, DH = (exact.array(fx, a) for a in args)
            trace = exact.forward(fx, X, H0, WX, WH, B)

            def outputs(grads):
                return grads.dx, grads.dh0, grads.dWx, grads.dWh, grads.db

            grads = exact.backward(fx, trace, WX, WH, DH)
            dx, e_h0, _, dWx, dWh, db = backward_error_scale(fx, trace, grads, WX, WH)
            others = [(name, _floats(fx, outputs(exact.backward(fx, trace, WX, WH, DH, drop={path}))))
                      for name, path in self.DROPS]
            return _floats(fx, outputs(grads), certify=True), _floats(fx, (dx, e_h0, dWx, dWh, db)), others

        fx = exact.precision(x=x, h=h0, c=0 * h0, Wx=Wx, Wh=Wh, b=b)
        expected, magnitude, others = exact.exactly(compute, fx)
        return TaskCase(args, expected, magnitude, _label(regime, x, h0.shape[1]), cost=x.shape[0] * x.shape[1],
                        dropped=distinct(expected, magnitude, others))

    @staticmethod
    def finite_difference(args) -> tuple:
        x, h0, Wx, Wh, b, dh = (np.asarray(a, dtype=float) for a in args)
        dx, dh0, _, dWx, dWh, db = exact.finite_difference(x, h0, None, Wx, Wh, b, dh)
        return tuple(_rounded(v) for v in (dx, dh0, dWx, dWh, db))


TASKS = {
    "packed_step_forward": StepForward,
    "packed_step_backward": StepBackward,
    "packed_forward": SequenceForward,
    "packed_backward": SequenceBackward,
}
