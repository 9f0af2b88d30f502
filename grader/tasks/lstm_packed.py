"""Tasks of the packed LSTM layout (x @ Wx + h @ Wh + b, gates i, f, o, g).

The student's functions keep the course materials' names and signatures. A
forward's cache is whatever the student likes and cannot leave the sandbox,
so every question is graded through a driver of the pack's helpers that runs
the student's forward and hands its cache to the student's backward; the
tasks below only ever see plain arrays. reference.numeric.packed is the oracle.

Magnitudes are first-order running error bounds of a correct float64 code:
every operation adds rounding at the scale of its absolute-value form, and
errors made earlier travel on with the true factors (|σ'(a)|, |tanh'|, |f|),
so that they stay meaningful over 1,000 steps with saturated gates.
"""
from __future__ import annotations

import numpy as np

from reference.numeric import packed
from reference.numeric.activations import dsigmoid, dtanh, sigmoid
from reference.numeric.lstm import LSTMParams

from .lstm_vector import draw_params, five_point

STABILITY_T = 1000
REGIME_NOTES = {"ordinary": "", "saturated": ", gates saturated (|pre-activation| 8…30)",
                "stability": ", forget gates ≈ 1 and input gates ≈ 0",
                "extreme": ", gates saturated up to |pre-activation| 1000"}


def draw_problem(rng, regime: str, sequence: bool):
    """(x, h0, Wx, Wh, b) for a step ((N, D) input) or a sequence ((N, T, D)).
    D and H differ, so Wx and Wh (or a transposed product) cannot be mixed up silently."""
    N = int(rng.integers(2, 4))
    H = int(rng.integers(2, 5))
    D = int(rng.choice([k for k in (2, 3, 4, 5) if k != H]))
    params: LSTMParams = draw_params(rng, regime, H, D, 1)
    Wx, Wh, b = packed.pack_params(params)
    if sequence:
        T = STABILITY_T if regime == "stability" else int(rng.integers(2, 7))
        x = rng.normal(size=(N, T, D))
    else:
        x = rng.normal(size=(N, D))
    return x, rng.normal(size=(N, H)), np.array(Wx), np.array(Wh), np.array(b)


def _label(regime: str, x: np.ndarray, H: int) -> str:
    sizes = f"N = {x.shape[0]}, D = {x.shape[-1]}, H = {H}"
    if x.ndim == 3:
        sizes = f"T = {x.shape[1]}, " + sizes
    return sizes + REGIME_NOTES[regime]


# -- error scales ---------------------------------------------------------------

def _stacked(steps) -> dict[str, np.ndarray]:
    """The step caches as (T, N, ...) arrays, with the factors of every gate
    block (i, f, o, g along the 4H axis) computed for all steps at once."""
    s = {k: np.stack([getattr(step, k) for step in steps]) for k in ("x", "prev_h", "prev_c", "a", "f", "o", "next_c")}
    H = s["prev_h"].shape[-1]
    a = s["a"]
    v = np.concatenate([sigmoid(a[..., :3 * H]), np.tanh(a[..., 3 * H:])], axis=-1)
    s["true_slope"] = np.concatenate([dsigmoid(a[..., :3 * H]), dtanh(a[..., 3 * H:])], axis=-1)
    s["abs_slope"] = np.concatenate([np.abs(v[..., :3 * H]) * (1 + np.abs(v[..., :3 * H])),
                                     1 + v[..., 3 * H:] ** 2], axis=-1)
    s["tanh_c"], s["dtanh_c"] = np.tanh(s["next_c"]), dtanh(s["next_c"])
    # what multiplies each gate's upstream gradient: da_i = dc g σ', da_f = dc c_prev σ',
    # da_o = dh tanh(c) σ', da_g = dc i tanh'
    s["factor"] = np.concatenate([v[..., 3 * H:], s["prev_c"], s["tanh_c"], v[..., :H]], axis=-1)
    s["v"] = v
    return s


def forward_error_scale(steps, Wx, Wh, b):
    """Error scales of every next_h and next_c (T, N, H) of a run of steps from exact inputs."""
    s = _stacked(steps)
    H = s["prev_h"].shape[-1]
    aWh = np.abs(Wh)
    v, slope = np.abs(s["v"]), s["true_slope"]
    # a = x Wx + h Wh + b: everything but the error h already carries, for all steps at once
    e_a_fixed = np.abs(s["x"]) @ np.abs(Wx) + np.abs(s["prev_h"]) @ aWh + np.abs(b)
    prev_c, tanh_c, dtanh_c = np.abs(s["prev_c"]), np.abs(s["tanh_c"]), s["dtanh_c"]
    i, f, o, g = (v[..., k * H:(k + 1) * H] for k in range(4))
    # terms of e_c and e_h that do not depend on the errors carried in
    c_own, h_own = f * prev_c + i * g, o * tanh_c
    hs, cs = np.empty_like(prev_c), np.empty_like(prev_c)
    e_h, e_c = np.zeros_like(prev_c[0]), np.zeros_like(prev_c[0])
    for t in range(len(steps)):
        e_gate = v[t] + slope[t] * (e_a_fixed[t] + e_h @ aWh)
        e_c = f[t] * e_c + c_own[t] + prev_c[t] * e_gate[:, H:2 * H] + g[t] * e_gate[:, :H] + i[t] * e_gate[:, 3 * H:]
        e_h = h_own[t] + tanh_c[t] * e_gate[:, 2 * H:3 * H] + o[t] * dtanh_c[t] * e_c
        hs[t], cs[t] = e_h, e_c
    return hs, cs


def backward_error_scale(steps, dnext_h, dnext_c, Wx, Wh):
    """Error scales of (dx (T, N, D), dprev_h, dprev_c, dWx, dWh, db) of a
    value-form backward over ``steps``. ``dnext_h`` holds the upstream gradient
    on every step's next_h (T, N, H); ``dnext_c`` the one on the last next_c.
    The true gradients are swept alongside the errors: the errors need them."""
    s = _stacked(steps)
    H = s["prev_h"].shape[-1]
    aWh = np.abs(Wh)
    f, o = s["f"], s["o"]
    true_factor = s["true_slope"] * s["factor"]           # da = true_factor * upstream
    err_factor = s["true_slope"] * np.abs(s["factor"])   # carries the errors already made
    own_factor = s["abs_slope"] * np.abs(s["factor"])    # the rounding of this step's products
    tanh_c2 = 1 + s["tanh_c"] ** 2
    T = len(steps)
    total = np.empty(s["a"].shape)
    carry_h, carry_c = np.zeros_like(dnext_h[0]), np.asarray(dnext_c, dtype=float)
    e_h, e_c = np.zeros_like(carry_h), np.zeros_like(carry_h)
    for t in range(T - 1, -1, -1):
        dh = dnext_h[t] + carry_h
        dc = carry_c + dh * o[t] * s["dtanh_c"][t]
        e_dc = e_c + np.abs(carry_c) + np.abs(o[t]) * (s["dtanh_c"][t] * e_h + tanh_c2[t] * np.abs(dh))
        up = np.concatenate([dc, dc, dh, dc], axis=1)
        up_err = np.concatenate([e_dc, e_dc, e_h, e_dc], axis=1)
        total[t] = err_factor[t] * (up_err + np.abs(up)) + own_factor[t] * np.abs(up)
        carry_h = (true_factor[t] * up) @ Wh.T
        carry_c = dc * f[t]
        e_h = total[t] @ aWh.T
        e_c = np.abs(f[t]) * (e_dc + np.abs(dc))
    dx = total @ np.abs(Wx).T
    dWx = np.einsum("tnd,tnk->dk", np.abs(s["x"]), total)
    dWh = np.einsum("tnh,tnk->hk", np.abs(s["prev_h"]), total)
    return dx, e_h, e_c, dWx, dWh, total.sum(axis=(0, 1))


# -- tasks ------------------------------------------------------------------------

class _Task:
    n_outputs = 0

    def __init__(self, outputs=()):
        if outputs and len(outputs) != self.n_outputs:
            raise ValueError(f"{type(self).__name__} has {self.n_outputs} outputs; outputs names {len(outputs)}")


class StepForward(_Task):
    """``lstm_step_forward`` graded on (next_h, next_c)."""

    regimes = ("ordinary", "saturated", "extreme")
    supports_gradcheck = False
    n_outputs = 2

    def case(self, rng, regime: str):
        x, prev_h, Wx, Wh, b = draw_problem(rng, regime, sequence=False)
        prev_c = rng.normal(size=prev_h.shape)
        next_h, next_c, step = packed.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        hs, cs = forward_error_scale([step], Wx, Wh, b)
        return (x, prev_h, prev_c, Wx, Wh, b), (next_h, next_c), (hs[0], cs[0]), _label(regime, x, prev_h.shape[1])


class StepBackward(_Task):
    """``lstm_step_backward`` after the student's own ``lstm_step_forward``:
    (dx, dprev_h, dprev_c, dWx, dWh, db) for upstream dnext_h, dnext_c."""

    regimes = ("ordinary", "saturated", "extreme")
    supports_gradcheck = True
    n_outputs = 6

    def case(self, rng, regime: str):
        x, prev_h, Wx, Wh, b = draw_problem(rng, regime, sequence=False)
        prev_c = rng.normal(size=prev_h.shape)
        dnext_h, dnext_c = rng.normal(size=prev_h.shape), rng.normal(size=prev_h.shape)
        _, _, step = packed.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
        expected = packed.lstm_step_backward(dnext_h, dnext_c, step)
        dx, dh, dc, dWx, dWh, db = backward_error_scale([step], dnext_h[None], dnext_c, Wx, Wh)
        args = (x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c)
        return args, tuple(expected), (dx[0], dh, dc, dWx, dWh, db), _label(regime, x, prev_h.shape[1])

    @staticmethod
    def finite_difference(args) -> tuple:
        x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c = args
        inputs = [x, prev_h, prev_c, Wx, Wh, b]

        def step_loss(k, value):
            moved = list(inputs)
            moved[k] = value
            next_h, next_c, _ = packed.lstm_step_forward(*moved)
            return float(np.sum(next_h * dnext_h) + np.sum(next_c * dnext_c))

        return tuple(five_point(lambda v, k=k: step_loss(k, v), inputs[k]) for k in range(6))


class SequenceForward(_Task):
    """``lstm_forward`` graded on h (N, T, H); the initial cell is zero."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    supports_gradcheck = False
    n_outputs = 1

    def case(self, rng, regime: str):
        x, h0, Wx, Wh, b = draw_problem(rng, regime, sequence=True)
        h, cache = packed.lstm_forward(x, h0, Wx, Wh, b)
        hs, _ = forward_error_scale(cache.steps, Wx, Wh, b)
        return (x, h0, Wx, Wh, b), h, hs.transpose(1, 0, 2), _label(regime, x, h0.shape[1])


class SequenceBackward(_Task):
    """``lstm_backward`` after the student's own ``lstm_forward``:
    (dx, dh0, dWx, dWh, db) for an upstream gradient dh on every hidden state."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    supports_gradcheck = True
    n_outputs = 5

    def case(self, rng, regime: str):
        x, h0, Wx, Wh, b = draw_problem(rng, regime, sequence=True)
        dh = rng.normal(size=x.shape[:2] + (h0.shape[1],))
        _, cache = packed.lstm_forward(x, h0, Wx, Wh, b)
        expected = packed.lstm_backward(dh, cache)
        dx, dh0, _, dWx, dWh, db = backward_error_scale(cache.steps, dh.transpose(1, 0, 2),
                                                        np.zeros_like(h0), Wx, Wh)
        magnitude = (dx.transpose(1, 0, 2), dh0, dWx, dWh, db)
        return (x, h0, Wx, Wh, b, dh), tuple(expected), magnitude, _label(regime, x, h0.shape[1])

    @staticmethod
    def finite_difference(args) -> tuple:
        x, h0, Wx, Wh, b, dh = args
        inputs = [x, h0, Wx, Wh, b]

        def sequence_loss(k, value):
            moved = list(inputs)
            moved[k] = value
            h, _ = packed.lstm_forward(*moved)
            return float(np.sum(h * dh))

        return tuple(five_point(lambda v, k=k: sequence_loss(k, v), inputs[k]) for k in range(5))


TASKS = {
    "packed_step_forward": StepForward,
    "packed_step_backward": StepBackward,
    "packed_forward": SequenceForward,
    "packed_backward": SequenceBackward,
}
