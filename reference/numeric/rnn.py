"""Vanilla RNN h_t = tanh(W h_{t-1} + U x_t + b) and the seed-002 quantities.

Shapes: W (n, n), U (n, m), b (n,), x (T, m), h0 (n,).  Time is 1-based:
``trace.h[t-1]`` is h_t, and ``hs`` (``trace.hs``, (T+1, n)) has hs[t] = h_t
including hs[0] = h_0, which is how the seed-002 functions index states.

Seed 002 (loss from the last hidden state only):
  eq (1)  grad_{h_{tau-k}} = [prod_{i=1}^{k} W^T diag(1 - h_{tau-k+i}^2)] grad_{h_tau}
          with the i = 1 factor leftmost;
  eq (2)  ||dh_tau/dh_{tau-k}||_2 <= ||W||_2^k (max_x |tanh'(x)|)^k = ||W||_2^k;
  eq (3)  LSTM cell path prod_i diag(e_{tau-k+i}) diag(1 - tanh^2 s_tau) diag(o_tau) grad_{h_tau};
  eq (4)  ||ds_tau/ds_{tau-k}|| <= ||c|| + sup|tanh|^k  (= ||c|| + 1), c = the
          part of the Jacobian that goes through hidden states.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .activations import dtanh, tanh, tanh_grad_from_value
from .lstm import LSTMParams, LSTMTrace, cell_jacobian, cell_path_factor

__all__ = [
    "RNNTrace",
    "RNNGrads",
    "rnn_forward",
    "rnn_backward",
    "rnn_state_jacobian",
    "rnn_grad_k_steps_back",
    "rnn_norm_bound",
    "rnn_norm_bound_data",
    "lstm_cell_path_gradient",
    "LSTMCellBound",
    "lstm_cell_jacobian_bound",
]

MAX_DTANH = 1.0     # max_x |1 - tanh(x)^2|, attained at x = 0
SUP_ABS_TANH = 1.0  # sup_x |tanh(x)| (approached, never attained)


@dataclass(frozen=True, eq=False)
class RNNTrace:
    """x (T, m), h0 (n,), pre-activations z (T, n), states h (T, n)."""

    x: np.ndarray
    h0: np.ndarray
    z: np.ndarray
    h: np.ndarray

    def __post_init__(self):
        for a in (self.x, self.h0, self.z, self.h):
            a.setflags(write=False)

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def hs(self) -> np.ndarray:
        """(T+1, n) with hs[t] = h_t, hs[0] = h_0."""
        return np.concatenate([self.h0[None], self.h])


@dataclass(frozen=True, eq=False)
class RNNGrads:
    """dL/dW, dL/dU, dL/db, dL/dh0, dL/dx (T, m); per step the TOTAL
    dL/dh_t (``h``, (T, n), t = 1..T) and dL/dz_t (``z``)."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    h0: np.ndarray
    x: np.ndarray
    h: np.ndarray
    z: np.ndarray


def _f64(a) -> np.ndarray:
    return np.array(a, dtype=np.float64)   # a copy: traces own their data


def rnn_forward(W, U, b, x, h0=None) -> RNNTrace:
    """Run the RNN over x (T, m) from h0 (n,) (None = zeros)."""
    W, U, b, x = map(_f64, (W, U, b, x))
    n, m = U.shape
    h0 = np.zeros(n) if h0 is None else _f64(h0)
    if W.shape != (n, n) or b.shape != (n,) or h0.shape != (n,) or x.ndim != 2 or x.shape[1] != m:
        raise ValueError(f"W {W.shape}, U {U.shape}, b {b.shape}, x {x.shape}, h0 {h0.shape} do not fit")
    z = x @ U.T + b                      # input part for every step at once
    h = np.empty_like(z)
    h_prev = h0
    for t in range(x.shape[0]):
        z[t] += W @ h_prev
        h_prev = h[t] = tanh(z[t])
    return RNNTrace(x=x, h0=h0, z=z, h=h)


def rnn_backward(W, U, trace: RNNTrace, grad_h=None, grad_h_last=None) -> RNNGrads:
    """Full BPTT.  ``grad_h`` (T, n): upstream gradient on every h_t (None =
    zeros); ``grad_h_last`` (n,): an extra upstream gradient on h_T only (the
    seed-002 setting, loss from the last state)."""
    W, U = np.asarray(W, dtype=np.float64), np.asarray(U, dtype=np.float64)
    T, n = trace.h.shape
    up = np.zeros((T, n)) if grad_h is None else _f64(grad_h)
    if up.shape != (T, n):
        raise ValueError(f"grad_h has shape {up.shape}, expected {(T, n)}")
    if grad_h_last is not None:
        up[-1] += np.asarray(grad_h_last, dtype=np.float64)
    dact = dtanh(trace.z)
    gh = np.empty((T, n))
    gz = np.empty((T, n))
    carry = np.zeros(n)                  # W^T dL/dz_{t+1}
    for t in range(T - 1, -1, -1):
        gh[t] = up[t] + carry
        gz[t] = dact[t] * gh[t]
        carry = W.T @ gz[t]
    hs_prev = trace.hs[:-1]
    return RNNGrads(W=gz.T @ hs_prev, U=gz.T @ trace.x, b=gz.sum(axis=0),
                    h0=carry, x=gz @ U, h=gh, z=gz)


def _check_window(hs: np.ndarray, tau: int, k: int) -> None:
    if not (0 <= k <= tau <= hs.shape[0] - 1):
        raise ValueError(f"need 0 <= k <= tau <= {hs.shape[0] - 1}, got tau={tau}, k={k}")


def rnn_state_jacobian(W, hs, tau: int, k: int) -> np.ndarray:
    """dh_tau/dh_{tau-k} = diag(1-h_tau^2) W ... diag(1-h_{tau-k+1}^2) W, (n, n)."""
    W, hs = np.asarray(W, dtype=np.float64), np.asarray(hs, dtype=np.float64)
    _check_window(hs, tau, k)
    J = np.eye(W.shape[0])
    for j in range(tau - k + 1, tau + 1):
        J = tanh_grad_from_value(hs[j])[:, None] * (W @ J)
    return J


def rnn_grad_k_steps_back(W, hs, grad_h_tau, tau: int, k: int) -> np.ndarray:
    """Eq (1): [prod_{i=1}^{k} W^T diag(1 - h_{tau-k+i}^2)] grad_h_tau.

    The product is applied to the vector from the right, i.e. the i = k
    factor (the one holding h_tau) acts first."""
    W, hs = np.asarray(W, dtype=np.float64), np.asarray(hs, dtype=np.float64)
    _check_window(hs, tau, k)
    v = np.array(grad_h_tau, dtype=np.float64)
    for i in range(k, 0, -1):
        v = W.T @ (tanh_grad_from_value(hs[tau - k + i]) * v)
    return v


def _pow(base: float, k: int) -> float:
    # base**k for floats raises OverflowError; the bound should just be inf.
    if base == 0.0:
        return 0.0 if k else 1.0
    log = k * math.log(base)
    return math.inf if log > 709.0 else math.exp(log)


def rnn_norm_bound(W, k: int) -> float:
    """Eq (2): ||W||_2^k * (max_x |1 - tanh(x)^2|)^k, spectral norm (ord=2)."""
    return _pow(float(np.linalg.norm(np.asarray(W, dtype=np.float64), 2)) * MAX_DTANH, k)


def rnn_norm_bound_data(W, hs, tau: int, k: int) -> float:
    """Tighter, data-dependent version of eq (2):
    prod_{j=tau-k+1}^{tau} ||diag(1 - h_j^2) W||_2  >=  ||dh_tau/dh_{tau-k}||_2."""
    W, hs = np.asarray(W, dtype=np.float64), np.asarray(hs, dtype=np.float64)
    _check_window(hs, tau, k)
    bound = 1.0
    for j in range(tau - k + 1, tau + 1):
        bound *= float(np.linalg.norm(tanh_grad_from_value(hs[j])[:, None] * W, 2))
    return bound


def lstm_cell_path_gradient(forget_gates, s_tau, o_tau, grad_h_tau) -> np.ndarray:
    """Eq (3): prod_{i=1}^{k} diag(e_{tau-k+i}) diag(1 - tanh(s_tau)^2) diag(o_tau) grad_h_tau.

    ``forget_gates`` (k, n) holds e_{tau-k+1} .. e_{tau}; the rest are (n,).
    Everything is diagonal, so the product is elementwise."""
    e = np.asarray(forget_gates, dtype=np.float64)
    return np.prod(e, axis=0) * dtanh(s_tau) * np.asarray(o_tau, dtype=np.float64) \
        * np.asarray(grad_h_tau, dtype=np.float64)


class LSTMCellBound(NamedTuple):
    jacobian_norm: float    # ||dC_tau/dC_{tau-k}||_2, every path
    cell_path_norm: float   # ||prod diag(f_j)||_2 = max_j of the product
    c_norm: float           # ||c||_2, c = total Jacobian - cell path
    bound: float            # ||c||_2 + sup|tanh|^k  (eq (4))


def lstm_cell_jacobian_bound(params: LSTMParams, trace: LSTMTrace, tau: int, k: int) -> LSTMCellBound:
    """Eq (4) for one sequence: split dC_tau/dC_{tau-k} into the cell path
    diag(prod f) and c, and evaluate both sides of the bound."""
    if trace.batched:
        raise ValueError("lstm_cell_jacobian_bound takes a single-sequence trace")
    J = cell_jacobian(params, trace, tau, k)
    path = cell_path_factor(trace, tau, k)
    c = J - np.diag(path)
    c_norm = float(np.linalg.norm(c, 2))
    return LSTMCellBound(float(np.linalg.norm(J, 2)), float(np.max(np.abs(path))), c_norm,
                         c_norm + _pow(SUP_ABS_TANH, k))
