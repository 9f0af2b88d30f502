"""The packed LSTM layout used by many course materials (batch-first).

All four gates share one affine map a = x @ Wx + prev_h @ Wh + b with the 4H
axis ordered i, f, o, g:

    x (N, D)   prev_h, prev_c (N, H)   Wx (D, 4H)   Wh (H, 4H)   b (4H,)
    i = sigma(a[:, :H])  f = sigma(a[:, H:2H])  o = sigma(a[:, 2H:3H])  g = tanh(a[:, 3H:])
    next_c = f * prev_c + i * g          next_h = o * tanh(next_c)

Sequences are (N, T, D) -> (N, T, H) with a zero initial cell.  Weights act
on row vectors, so Wx[:, H:2H] is the homework's W_xf transposed; see
``pack_params``/``unpack_params``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import dsigmoid, dtanh, sigmoid, tanh
from .lstm import LSTMParams

__all__ = [
    "PACKED_GATE_ORDER",
    "StepCache",
    "SequenceCache",
    "lstm_step_forward",
    "lstm_step_backward",
    "lstm_forward",
    "lstm_backward",
    "pack_params",
    "unpack_params",
]

# Packed gate name -> homework gate letter, in 4H-axis order.
PACKED_GATE_ORDER = (("i", "i"), ("f", "f"), ("o", "o"), ("g", "c"))


class StepCache(NamedTuple):
    x: np.ndarray
    prev_h: np.ndarray
    prev_c: np.ndarray
    Wx: np.ndarray
    Wh: np.ndarray
    a: np.ndarray          # (N, 4H) pre-activations
    i: np.ndarray
    f: np.ndarray
    o: np.ndarray
    g: np.ndarray
    next_c: np.ndarray


class SequenceCache(NamedTuple):
    steps: tuple           # one StepCache per time step
    D: int
    H: int


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One step.  Returns (next_h (N, H), next_c (N, H), cache)."""
    x, prev_h, prev_c, Wx, Wh, b = map(_f64, (x, prev_h, prev_c, Wx, Wh, b))
    N, H = prev_h.shape
    D = x.shape[1]
    if x.shape != (N, D) or prev_c.shape != (N, H) or Wx.shape != (D, 4 * H) \
            or Wh.shape != (H, 4 * H) or b.shape != (4 * H,):
        raise ValueError(
            f"shapes x {x.shape}, prev_h {prev_h.shape}, prev_c {prev_c.shape}, "
            f"Wx {Wx.shape}, Wh {Wh.shape}, b {b.shape} do not fit N={N}, D={D}, H={H}")
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * tanh(next_c)
    return next_h, next_c, StepCache(x, prev_h, prev_c, Wx, Wh, a, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache: StepCache):
    """Returns (dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,))."""
    c = cache
    H = c.prev_h.shape[1]
    dnext_h, dnext_c = _f64(dnext_h), _f64(dnext_c)
    # Total gradient on next_c: from upstream and through next_h = o*tanh(next_c).
    dc = dnext_c + dnext_h * c.o * dtanh(c.next_c)
    da = np.concatenate([
        dc * c.g * dsigmoid(c.a[:, :H]),                      # i
        dc * c.prev_c * dsigmoid(c.a[:, H:2 * H]),            # f
        dnext_h * tanh(c.next_c) * dsigmoid(c.a[:, 2 * H:3 * H]),  # o
        dc * c.i * dtanh(c.a[:, 3 * H:]),                     # g
    ], axis=1)
    dx = da @ c.Wx.T
    dprev_h = da @ c.Wh.T
    dprev_c = dc * c.f
    dWx = c.x.T @ da
    dWh = c.prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """x (N, T, D), h0 (N, H); initial cell is zero.  Returns (h (N, T, H), cache)."""
    # Copies, so the cache cannot change under us if a caller reuses x / h0.
    x, h0 = np.array(x, dtype=np.float64), np.array(h0, dtype=np.float64)
    if x.ndim != 3 or h0.ndim != 2 or x.shape[0] != h0.shape[0]:
        raise ValueError(f"x {x.shape} must be (N, T, D) and h0 {h0.shape} (N, H)")
    N, T, D = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))
    prev_h, prev_c = h0, np.zeros((N, H))
    steps = []
    for t in range(T):
        prev_h, prev_c, step = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step)
    return h, SequenceCache(tuple(steps), D, H)


def lstm_backward(dh, cache: SequenceCache):
    """dh (N, T, H): upstream gradient on every hidden state.
    Returns (dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,))."""
    dh = _f64(dh)
    N, T, H = dh.shape
    if T != len(cache.steps) or H != cache.H:
        raise ValueError(f"dh has shape {dh.shape}, expected (N, {len(cache.steps)}, {cache.H})")
    dx = np.empty((N, T, cache.D))
    dWx = np.zeros((cache.D, 4 * H))
    dWh = np.zeros((H, 4 * H))
    db = np.zeros(4 * H)
    dprev_h = np.zeros((N, H))
    dprev_c = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, cache.steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def pack_params(params: LSTMParams):
    """Homework-layout weights -> packed (Wx (m, 4n), Wh (n, 4n), b (4n,)); W_y, b_y are dropped."""
    Wx = np.concatenate([getattr(params, f"W_x{hw}").T for _, hw in PACKED_GATE_ORDER], axis=1)
    Wh = np.concatenate([getattr(params, f"W_h{hw}").T for _, hw in PACKED_GATE_ORDER], axis=1)
    b = np.concatenate([getattr(params, f"b_{hw}") for _, hw in PACKED_GATE_ORDER])
    return Wx, Wh, b


def unpack_params(Wx, Wh, b) -> dict[str, np.ndarray]:
    """Packed (Wx, Wh, b) -- or their gradients -> homework-named blocks
    ``W_x*``, ``W_h*``, ``b_*`` (12 arrays, column-vector convention)."""
    Wx, Wh, b = _f64(Wx), _f64(Wh), _f64(b)
    H = Wh.shape[0]
    out = {}
    for k, (_, hw) in enumerate(PACKED_GATE_ORDER):
        cols = slice(k * H, (k + 1) * H)
        out[f"W_x{hw}"] = Wx[:, cols].T.copy()
        out[f"W_h{hw}"] = Wh[:, cols].T.copy()
        out[f"b_{hw}"] = b[cols].copy()
    return out
