"""LSTM forward/backward in the homework's notation, generalised to vectors.

Shapes: n = hidden size, m = input size, p = output size, T = time steps,
N = batch size.  Weight matrices act on column vectors (``W_hf @ h``).

    f_t  = sigma(W_hf h_{t-1} + W_xf x_t + b_f)      b_f is the homework's W_0^f
    i_t  = sigma(W_hi h_{t-1} + W_xi x_t + b_i)
    o_t  = sigma(W_ho h_{t-1} + W_xo x_t + b_o)
    Ct_t = tanh (W_hc h_{t-1} + W_xc x_t + b_c)       candidate cell C~_t
    C_t  = f_t * C_{t-1} + i_t * Ct_t
    h_t  = o_t * tanh(C_t)
    y_t  = sigma(W_y h_t + b_y)

Time is 1-based as in the homework: t = 1..T is stored at array index t-1,
and t = 0 is the initial state (``h0``, ``C0``).  Sequences are time-major:
``x`` is (T, m) for one sequence or (T, N, m) for a mini-batch, and every
per-step array follows suit ((T, n) or (T, N, n)).

The loss is defined by its upstream gradients,
L = sum_t <grad_y_t, y_t> + sum_t <grad_h_ext_t, h_t>, so dL/dy_t = grad_y_t.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .activations import dsigmoid, dtanh, sigmoid, tanh

__all__ = [
    "PARAM_NAMES",
    "LSTMParams",
    "LSTMTrace",
    "LSTMGrads",
    "lstm_forward",
    "lstm_backward",
    "cell_path_factor",
    "cell_jacobian",
]

GATES = ("f", "i", "o", "c")
PARAM_NAMES = tuple(
    name for g in GATES for name in (f"W_h{g}", f"W_x{g}", f"b_{g}")
) + ("W_y", "b_y")


def _param_shape(name: str, n: int, m: int, p: int) -> tuple[int, ...]:
    if name == "W_y":
        return (p, n)
    if name == "b_y":
        return (p,)
    return {"W_h": (n, n), "W_x": (n, m)}.get(name[:3], (n,))


def _readonly(obj) -> None:
    for fld in fields(obj):
        a = getattr(obj, fld.name)
        if isinstance(a, np.ndarray):
            a.setflags(write=False)


def _frozen_array(a) -> np.ndarray:
    # A private read-only copy: the reference must never be mutated by a
    # caller (e.g. a student submission handed the same arrays).
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class LSTMParams:
    """All weights; also used for their gradients (same shapes).

    W_h* : (n, n)   W_x* : (n, m)   b_* : (n,)   W_y : (p, n)   b_y : (p,)
    Arrays are stored as read-only float64 copies.
    """

    W_hf: np.ndarray
    W_xf: np.ndarray
    b_f: np.ndarray
    W_hi: np.ndarray
    W_xi: np.ndarray
    b_i: np.ndarray
    W_ho: np.ndarray
    W_xo: np.ndarray
    b_o: np.ndarray
    W_hc: np.ndarray
    W_xc: np.ndarray
    b_c: np.ndarray
    W_y: np.ndarray
    b_y: np.ndarray

    def __post_init__(self):
        for name in PARAM_NAMES:
            object.__setattr__(self, name, _frozen_array(getattr(self, name)))
        if self.W_xf.ndim != 2 or self.W_y.ndim != 2 or 0 in self.W_xf.shape:
            raise ValueError(f"W_xf {self.W_xf.shape} / W_y {self.W_y.shape} must be non-empty matrices")
        n, m = self.W_xf.shape
        p = self.W_y.shape[0]
        for name in PARAM_NAMES:
            want = _param_shape(name, n, m, p)
            if getattr(self, name).shape != want:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {want}")

    @property
    def n(self) -> int:
        return self.W_xf.shape[0]

    @property
    def m(self) -> int:
        return self.W_xf.shape[1]

    @property
    def p(self) -> int:
        return self.W_y.shape[0]

    @classmethod
    def random(cls, n: int, m: int, p: int, rng: np.random.Generator, scale: float = 0.5,
               forget_bias: float = 0.0, input_bias: float = 0.0,
               output_bias: float = 0.0) -> "LSTMParams":
        """Every entry ~ scale * N(0, 1); the forget, input and output-GATE
        biases are additionally shifted by ``forget_bias``, ``input_bias`` and
        ``output_bias`` (b_c and b_y get no shift)."""
        shift = {"b_f": forget_bias, "b_i": input_bias, "b_o": output_bias}
        return cls(**{
            name: scale * rng.standard_normal(_param_shape(name, n, m, p)) + shift.get(name, 0.0)
            for name in PARAM_NAMES
        })

    def to_dict(self) -> dict[str, np.ndarray]:
        """Plain dict name -> writable copy of the array."""
        return {name: np.array(getattr(self, name)) for name in PARAM_NAMES}

    @classmethod
    def from_dict(cls, d) -> "LSTMParams":
        """Inverse of ``to_dict``; the keys must be exactly ``PARAM_NAMES``."""
        missing, extra = set(PARAM_NAMES) - set(d), set(d) - set(PARAM_NAMES)
        if missing or extra:
            raise KeyError(f"missing {sorted(missing)}, unexpected {sorted(extra)}")
        return cls(**{name: d[name] for name in PARAM_NAMES})


@dataclass(frozen=True, eq=False)
class LSTMTrace:
    """Everything the forward pass computed.  Per-step arrays are (T, n) or
    (T, N, n) (z_y, y: (T, [N,] p)); entry t-1 belongs to time t."""

    x: np.ndarray
    h0: np.ndarray
    C0: np.ndarray
    z_f: np.ndarray
    z_i: np.ndarray
    z_o: np.ndarray
    z_c: np.ndarray
    f: np.ndarray
    i: np.ndarray
    o: np.ndarray
    Ct: np.ndarray
    C: np.ndarray
    h: np.ndarray
    z_y: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        _readonly(self)

    @property
    def batched(self) -> bool:
        return self.x.ndim == 3

    @property
    def T(self) -> int:
        return self.x.shape[0]

    @property
    def C_prev(self) -> np.ndarray:
        """C_{t-1} for t = 1..T (same shape as C)."""
        return np.concatenate([self.C0[None], self.C[:-1]])

    @property
    def h_prev(self) -> np.ndarray:
        """h_{t-1} for t = 1..T (same shape as h)."""
        return np.concatenate([self.h0[None], self.h[:-1]])


@dataclass(frozen=True, eq=False)
class LSTMGrads:
    """Gradients of L.  ``grad_h``/``grad_C`` are TOTAL derivatives (every
    path through later steps); ``grad_f, grad_i, grad_o, grad_Ct`` are w.r.t.
    the gate VALUES and ``grad_z_*`` w.r.t. the pre-activations; all shaped
    like the trace arrays.  ``params`` holds dL/dW for every weight, summed
    over time and batch."""

    grad_h: np.ndarray
    grad_C: np.ndarray
    grad_f: np.ndarray
    grad_i: np.ndarray
    grad_o: np.ndarray
    grad_Ct: np.ndarray
    grad_z_f: np.ndarray
    grad_z_i: np.ndarray
    grad_z_o: np.ndarray
    grad_z_c: np.ndarray
    grad_z_y: np.ndarray
    params: LSTMParams
    grad_x: np.ndarray
    grad_h0: np.ndarray
    grad_C0: np.ndarray

    def __post_init__(self):
        _readonly(self)


def _initial_state(v, N: int, n: int, batched: bool, name: str) -> np.ndarray:
    want = (N, n) if batched else (n,)
    if v is None:
        return np.zeros((N, n))
    v = np.asarray(v, dtype=np.float64)
    if v.shape != want:
        raise ValueError(f"{name} has shape {v.shape}, expected {want}")
    return v.reshape(N, n)


def lstm_forward(params: LSTMParams, x, h0=None, C0=None) -> LSTMTrace:
    """Run the LSTM over ``x`` ((T, m) or time-major batch (T, N, m)).

    ``h0``/``C0``: (n,) for one sequence, (N, n) for a batch; None = zeros.
    """
    P = params
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (2, 3) or x.shape[-1] != P.m or x.shape[0] < 1:
        raise ValueError(f"x has shape {x.shape}, expected (T, {P.m}) or (T, N, {P.m})")
    batched = x.ndim == 3
    xb = x if batched else x[:, None, :]
    T, N, _ = xb.shape
    n = P.n
    # Private copies: the trace must not alias (and freeze) caller arrays.
    h0b = _initial_state(h0, N, n, batched, "h0").copy()
    C0b = _initial_state(C0, N, n, batched, "C0").copy()
    h_prev, C_prev = h0b, C0b

    # Input contributions for all steps at once; only the h-recurrence loops.
    zx = {g: xb @ getattr(P, f"W_x{g}").T + getattr(P, f"b_{g}") for g in GATES}
    out = {k: np.empty((T, N, n)) for k in ("z_f", "z_i", "z_o", "z_c", "f", "i", "o", "Ct", "C", "h")}
    for t in range(T):
        for g in GATES:
            out[f"z_{g}"][t] = zx[g][t] + h_prev @ getattr(P, f"W_h{g}").T
        f = out["f"][t] = sigmoid(out["z_f"][t])
        i = out["i"][t] = sigmoid(out["z_i"][t])
        o = out["o"][t] = sigmoid(out["z_o"][t])
        Ct = out["Ct"][t] = tanh(out["z_c"][t])
        C_prev = out["C"][t] = f * C_prev + i * Ct
        h_prev = out["h"][t] = o * tanh(C_prev)
    out["z_y"] = out["h"] @ P.W_y.T + P.b_y
    out["y"] = sigmoid(out["z_y"])

    def shaped(a):
        return a if batched else a[:, 0]

    return LSTMTrace(
        x=x.copy(),
        h0=h0b if batched else h0b[0],
        C0=C0b if batched else C0b[0],
        **{k: shaped(v) for k, v in out.items()},
    )


def _batch_view(trace: LSTMTrace, name: str) -> np.ndarray:
    a = getattr(trace, name)
    return a if trace.batched else a[..., None, :]


def _upstream(g, like: np.ndarray, name: str) -> np.ndarray:
    if g is None:
        return np.zeros_like(like)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != like.shape:
        raise ValueError(f"{name} has shape {g.shape}, expected {like.shape}")
    return g


def lstm_backward(params: LSTMParams, trace: LSTMTrace, grad_y, grad_h_ext=None) -> LSTMGrads:
    """Full BPTT.  ``grad_y`` is shaped like ``trace.y`` (None = zeros),
    ``grad_h_ext`` like ``trace.h`` (an extra upstream gradient on every h_t).

    Recurrences (per step, from t = T down to 1):
        grad_h_t  = W_y^T grad_z_y_t + grad_h_ext_t + sum_g W_hg^T grad_z_g_{t+1}
        grad_C_t  = o_t tanh'(C_t) grad_h_t + f_{t+1} grad_C_{t+1}
        grad_o_t  = tanh(C_t) grad_h_t       grad_f_t  = C_{t-1} grad_C_t
        grad_i_t  = Ct_t grad_C_t            grad_Ct_t = i_t grad_C_t
    sigma' and tanh' are evaluated from the stored pre-activations (and
    tanh'(C_t) from C_t), which keeps them accurate when gates saturate.
    """
    P = params
    gy = _upstream(grad_y, trace.y, "grad_y")
    ghx = _upstream(grad_h_ext, trace.h, "grad_h_ext")
    if not trace.batched:
        gy, ghx = gy[:, None], ghx[:, None]
    v = {k: _batch_view(trace, k) for k in ("x", "z_f", "z_i", "z_o", "z_c", "f", "i", "o", "Ct", "C", "h", "z_y")}
    h0 = trace.h0.reshape(1, -1) if not trace.batched else trace.h0
    C0 = trace.C0.reshape(1, -1) if not trace.batched else trace.C0
    T, N, n = v["C"].shape

    tanhC, dtanhC = tanh(v["C"]), dtanh(v["C"])
    C_prev = np.concatenate([C0[None], v["C"][:-1]])
    h_prev = np.concatenate([h0[None], v["h"][:-1]])
    dact = {"f": dsigmoid(v["z_f"]), "i": dsigmoid(v["z_i"]),
            "o": dsigmoid(v["z_o"]), "c": dtanh(v["z_c"])}
    gz_y = gy * dsigmoid(v["z_y"])
    gh_local = gz_y @ P.W_y + ghx

    names = ("grad_h", "grad_C", "grad_f", "grad_i", "grad_o", "grad_Ct",
             "grad_z_f", "grad_z_i", "grad_z_o", "grad_z_c")
    g = {k: np.empty((T, N, n)) for k in names}
    gh_next = np.zeros((N, n))   # sum_g W_hg^T grad_z_g_{t+1}
    gC_next = np.zeros((N, n))   # f_{t+1} * grad_C_{t+1}
    for t in range(T - 1, -1, -1):
        gh = g["grad_h"][t] = gh_local[t] + gh_next
        gC = g["grad_C"][t] = v["o"][t] * dtanhC[t] * gh + gC_next
        g["grad_o"][t] = tanhC[t] * gh
        g["grad_f"][t] = C_prev[t] * gC
        g["grad_i"][t] = v["Ct"][t] * gC
        g["grad_Ct"][t] = v["i"][t] * gC
        for gate, value in zip(GATES, ("grad_f", "grad_i", "grad_o", "grad_Ct")):
            g[f"grad_z_{gate}"][t] = dact[gate][t] * g[value][t]
        gh_next = sum(g[f"grad_z_{gate}"][t] @ getattr(P, f"W_h{gate}") for gate in GATES)
        gC_next = v["f"][t] * gC

    wg = {}
    for gate in GATES:
        gz = g[f"grad_z_{gate}"]
        wg[f"W_h{gate}"] = np.einsum("tni,tnj->ij", gz, h_prev)
        wg[f"W_x{gate}"] = np.einsum("tni,tnj->ij", gz, v["x"])
        wg[f"b_{gate}"] = gz.sum(axis=(0, 1))
    wg["W_y"] = np.einsum("tni,tnj->ij", gz_y, v["h"])
    wg["b_y"] = gz_y.sum(axis=(0, 1))
    grad_x = sum(g[f"grad_z_{gate}"] @ getattr(P, f"W_x{gate}") for gate in GATES)

    def shaped(a):
        return a if trace.batched else a[..., 0, :]

    return LSTMGrads(
        **{k: shaped(a) for k, a in g.items()},
        grad_z_y=shaped(gz_y),
        params=LSTMParams(**wg),
        grad_x=shaped(grad_x),
        grad_h0=shaped(gh_next),
        grad_C0=shaped(gC_next),
    )


def _check_window(trace: LSTMTrace, tau: int, k: int) -> None:
    if not (0 <= k <= tau <= trace.T):
        raise ValueError(f"need 0 <= k <= tau <= T={trace.T}, got tau={tau}, k={k}")


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    # log sigma(z) = -log(1 + e^{-z}); logaddexp never overflows and keeps
    # full relative accuracy when sigma(z) is within 1e-7 of 1.
    return -np.logaddexp(0.0, -z)


def cell_path_factor(trace: LSTMTrace, tau: int, k: int) -> np.ndarray:
    """Diagonal of the cell-only path dC_tau/dC_{tau-k} = prod_{j=tau-k+1}^{tau} diag(f_j).

    Returns (n,) or (N, n).  Summed in log space from the stored
    pre-activations, so it is the product of the exact sigmoids (not of the
    rounded f values) to ~1e-15 relative even for k = 1000 with f ~ 1.
    """
    _check_window(trace, tau, k)
    logs = _log_sigmoid(trace.z_f[tau - k:tau])
    return np.exp(logs.sum(axis=0)) if k else np.ones_like(trace.C0)


def cell_jacobian(params: LSTMParams, trace: LSTMTrace, tau: int, k: int) -> np.ndarray:
    """TOTAL Jacobian dC_tau/dC_{tau-k} through every path: (n, n) or (N, n, n).

    The state at tau-k is perturbed through C_{tau-k} and, consistently,
    through h_{tau-k} = o_{tau-k} * tanh(C_{tau-k}) with o_{tau-k} held fixed.
    At tau-k = 0 there is no o_0: h_0 is an independent input and only C_0
    moves.  The one-step Jacobians are chained left to right in time:
        dC_t = A_t dh_{t-1} + diag(f_t) dC_{t-1}
        dh_t = diag(tanh(C_t) sigma'(z_o)) W_ho dh_{t-1} + diag(o_t tanh'(C_t)) dC_t
        A_t  = diag(C_{t-1} sigma'(z_f)) W_hf + diag(Ct_t sigma'(z_i)) W_hi
               + diag(i_t tanh'(z_c)) W_hc
    For k = 1 this is seed 001's four-term dC_t/dC_{t-1}.
    """
    _check_window(trace, tau, k)
    P = params
    v = {key: _batch_view(trace, key) for key in ("z_f", "z_i", "z_o", "z_c", "f", "i", "o", "Ct", "C")}
    C0 = trace.C0.reshape(1, -1) if not trace.batched else trace.C0
    N, n = C0.shape
    s = tau - k                       # time index of the perturbed state

    def C_at(t):
        return C0 if t == 0 else v["C"][t - 1]

    eye = np.broadcast_to(np.eye(n), (N, n, n))
    M_C = eye.copy()
    if s == 0:
        M_h = np.zeros((N, n, n))
    else:
        M_h = (v["o"][s - 1] * dtanh(C_at(s)))[:, :, None] * eye
    for t in range(s + 1, tau + 1):
        j = t - 1                     # array index of time t
        a_f = C_at(t - 1) * dsigmoid(v["z_f"][j])
        a_i = v["Ct"][j] * dsigmoid(v["z_i"][j])
        a_c = v["i"][j] * dtanh(v["z_c"][j])
        Wh_Mh = {gate: getattr(P, f"W_h{gate}") @ M_h for gate in GATES}
        M_C = (a_f[:, :, None] * Wh_Mh["f"] + a_i[:, :, None] * Wh_Mh["i"]
               + a_c[:, :, None] * Wh_Mh["c"] + v["f"][j][:, :, None] * M_C)
        if t < tau:
            C_t = v["C"][j]
            M_h = ((tanh(C_t) * dsigmoid(v["z_o"][j]))[:, :, None] * Wh_Mh["o"]
                   + (v["o"][j] * dtanh(C_t))[:, :, None] * M_C)
    return M_C if trace.batched else M_C[0]
