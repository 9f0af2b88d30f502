"""The homework LSTM with column vectors, forward and backward, exactly.

    f_t  = σ(W_hf h_{t-1} + W_xf x_t + b_f)       b_f is the homework's W_0f
    i_t  = σ(W_hi h_{t-1} + W_xi x_t + b_i)
    o_t  = σ(W_ho h_{t-1} + W_xo x_t + b_o)
    C̃_t  = tanh(W_hc h_{t-1} + W_xc x_t + b_c)
    C_t  = f_t C_{t-1} + i_t C̃_t
    h_t  = o_t tanh(C_t)
    y_t  = σ(W_y h_t + b_y)
    L    = Σ_t grad_y_t·y_t + grad_h_t·h_t + grad_C_t·C_t

API (numbers are fixed-point ints of ``reference.exact.fixed``, in units of
2^-fx.bits; vectors are lists, matrices lists of rows; per-step quantities are
lists over t = 1..T at index t-1; scalars are the n = m = p = 1 case)::

    fx = precision(weights, x, h0)                      # from the float64 leaves
    trace = forward(weights, x, h0, C0, fx)             # x: T vectors of size m
    grads = backward(weights, trace, grad_y, grad_h=None, grad_C=None, drop=())
    L = loss(weights, x, h0, C0, grad_y, grad_h=None, grad_C=None, fx=fx)
    trace.fx.to_float(grads.params["W_hi"])             # rounded once, or PrecisionError

``weights`` maps W_hf, W_xf, b_f (or the homework's W_0f), ... W_y, b_y to
floats or arrays (a Raw int is taken as already scaled: a moved leaf). Each
rule's local derivative is stored by the forward pass beside its value (σ'(z)
with σ, tanh' with tanh), and the backward pass only multiplies upstream
gradients by them. ``drop`` removes one path from the recursion (see DROPS),
giving the answers of the classic mistakes, exactly. Wrap a computation whose
results are rounded in ``fixed.exactly`` to redo it at a finer precision when
a result is too small to certify. The model has no output layer when W_y and
b_y are not given (p = 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .fixed import Fixed

GATES = ("f", "i", "o", "c")
PARAM_NAMES = tuple(f"{kind}{g}" for g in GATES for kind in ("W_h", "W_x", "b_")) + ("W_y", "b_y")

# The paths ``backward(drop=...)`` can leave out, as a student's message names them.
DROPS = {
    "C_next": "∇C_t ignores the path through C_{t+1} (f_{t+1} ⊙ ∇C_{t+1} dropped)",
    "gates_next": "∇h_t ignores the paths through the gates of step t+1 (truncated BPTT)",
    "h_to_C": "∇C_t ignores the path through h_t (o_t ⊙ tanh'(C_t) ⊙ ∇h_t dropped)",
}


def canonical(name: str) -> str:
    """The homework writes biases W_0f ... W_0y; this module calls them b_f ... b_y."""
    return "b_" + name[3:] if name.startswith("W_0") else name


def _plain(v):
    return v.tolist() if hasattr(v, "tolist") else v


def _floats(v) -> list[float]:
    """Every entry of a leaf (number, array or nested list) as a float, flattened."""
    v = _plain(v)
    if isinstance(v, (list, tuple)):
        return [a for item in v for a in _floats(item)]
    return [float(v)]


def _rows(W) -> list:
    W = _plain(W)
    if not isinstance(W, (list, tuple)):
        return [[W]]
    return [row if isinstance(row, (list, tuple)) else [row] for row in W]


def precision(weights: Mapping[str, Any], x, h0=None) -> Fixed:
    """The working precision for a forward pass from its float64 leaves: what
    resolves e^-B, B an upper bound of every |pre-activation| (|h_t| < 1 after the
    first step). Python float arithmetic on the leaves: the same on every machine,
    and it only sets the precision, never a result (fixed.exactly)."""
    w = {canonical(k): v for k, v in weights.items()}
    x_max = max((abs(a) for a in _floats(x)), default=0.0)
    h_max = max([1.0] + [abs(a) for a in (_floats(h0) if h0 is not None else [])])
    bound = 0.0
    for g in GATES:
        for W_h, W_x, b in zip(_rows(w[f"W_h{g}"]), _rows(w[f"W_x{g}"]), _floats(w[f"b_{g}"])):
            size = h_max * sum(abs(float(a)) for a in W_h) + x_max * sum(abs(float(a)) for a in W_x) + abs(b)
            bound = max(bound, size)
    if "W_y" in w:
        for W_y, b in zip(_rows(w["W_y"]), _floats(w["b_y"])):
            bound = max(bound, sum(abs(float(a)) for a in W_y) + abs(b))
    return Fixed.for_bound(bound)


@dataclass(frozen=True)
class Params:
    """Every weight as fixed-point ints, under this module's names (PARAM_NAMES)."""

    values: Mapping[str, list]
    n: int
    m: int
    p: int
    fx: Fixed

    def __getitem__(self, name: str):
        return self.values[canonical(name)]


def as_params(weights: Mapping[str, Any] | Params, fx: Fixed) -> Params:
    """Exact weights from floats, NumPy arrays or nested lists (Raw ints are kept)."""
    if isinstance(weights, Params):
        if weights.fx != fx:
            raise ValueError(f"weights were scaled for {weights.fx}, not {fx}")
        return weights
    w = {canonical(k): v for k, v in weights.items()}
    unknown = sorted(set(w) - set(PARAM_NAMES))
    if unknown:
        raise KeyError(f"unknown weights {unknown}")
    missing = sorted(set(PARAM_NAMES[:12]) - set(w))
    if missing:
        raise KeyError(f"missing weights {missing}")
    values = {name: fx.vector(w[name]) if name.startswith("b_") else fx.matrix(_rows(w[name]))
              for name in PARAM_NAMES[:12]}
    n, m = len(values["W_xf"]), len(values["W_xf"][0])
    if "W_y" in w:
        values["W_y"], values["b_y"] = fx.matrix(_rows(w["W_y"])), fx.vector(w["b_y"])
    else:
        values["W_y"], values["b_y"] = [], []
    p = len(values["b_y"])
    for name, value in values.items():
        rows = len(value) if name.startswith("W") else 1
        cols = len(value[0]) if name.startswith("W") and value else len(value)
        want = {"W_h": (n, n), "W_x": (n, m), "W_y": (p, n)}.get(name[:3], (1, p if name == "b_y" else n))
        if (rows, cols) != want and value:
            raise ValueError(f"{name} is {rows} x {cols}, expected {want[0]} x {want[1]}")
    return Params(values, n, m, p, fx)


@dataclass(frozen=True)
class Trace:
    """Everything the forward pass computed, per step (index t-1 for time t).

    ``gate[g]`` is f, i, o or C̃ (g = "f", "i", "o", "c"), ``slope[g]`` its local
    derivative σ'(z_g) or tanh'(z_c); ``dtanhC`` is tanh'(C_t), ``dy`` σ'(z_y)."""

    fx: Fixed
    x: list
    h0: list
    C0: list
    z: dict
    gate: dict
    slope: dict
    C: list
    tanhC: list
    dtanhC: list
    h: list
    z_y: list
    y: list
    dy: list

    @property
    def T(self) -> int:
        return len(self.x)

    @property
    def f(self):
        return self.gate["f"]

    @property
    def i(self):
        return self.gate["i"]

    @property
    def o(self):
        return self.gate["o"]

    @property
    def Ct(self):
        return self.gate["c"]

    @property
    def C_prev(self) -> list:
        return [self.C0] + self.C[:-1]

    @property
    def h_prev(self) -> list:
        return [self.h0] + self.h[:-1]


def forward(weights, x, h0=None, C0=None, fx: Fixed | None = None) -> Trace:
    """Run the cell over ``x`` (T vectors of size m); h0, C0 default to zeros."""
    fx = fx or precision(weights, x, h0)
    P = as_params(weights, fx)
    n, p = P.n, P.p
    xs = [fx.vector(x_t) for x_t in x]
    if any(len(x_t) != P.m for x_t in xs):
        raise ValueError(f"every x_t must have {P.m} entries")
    h = fx.vector(h0) if h0 is not None else [0] * n
    C = fx.vector(C0) if C0 is not None else [0] * n
    if len(h) != n or len(C) != n:
        raise ValueError(f"h0 and C0 must have {n} entries")
    activation = {"f": fx.sigmoid, "i": fx.sigmoid, "o": fx.sigmoid, "c": fx.tanh}
    # One exact dot product per unit: [W_h | W_x | b] · [h_{t-1}; x_t; 1]
    rows = {g: [P[f"W_h{g}"][a] + P[f"W_x{g}"][a] + [P[f"b_{g}"][a]] for a in range(n)] for g in GATES}
    out_rows = [P["W_y"][k] + [P["b_y"][k]] for k in range(p)]
    rec: dict[str, list] = {k: [] for k in ("C", "tanhC", "dtanhC", "h", "z_y", "y", "dy")}
    z, gate, slope = ({g: [] for g in GATES} for _ in range(3))
    h0_, C0_ = h, C
    for x_t in xs:
        source = h + x_t + [fx.one]
        for g in GATES:
            z_g = [fx.dot(row, source) for row in rows[g]]
            pairs = [activation[g](v) for v in z_g]
            z[g].append(z_g)
            gate[g].append([v for v, _ in pairs])
            slope[g].append([d for _, d in pairs])
        f, i, o, Ct = (gate[g][-1] for g in GATES)
        C = [fx.round(f[a] * C[a] + i[a] * Ct[a]) for a in range(n)]      # C_t = f C_{t-1} + i C̃_t
        tC = [fx.tanh(v) for v in C]
        h = [fx.mul(o[a], tC[a][0]) for a in range(n)]                      # h_t = o tanh(C_t)
        z_y = [fx.dot(row, h + [fx.one]) for row in out_rows]
        y = [fx.sigmoid(v) for v in z_y]
        for key, value in (("C", C), ("tanhC", [t for t, _ in tC]), ("dtanhC", [d for _, d in tC]), ("h", h),
                           ("z_y", z_y), ("y", [v for v, _ in y]), ("dy", [d for _, d in y])):
            rec[key].append(value)
    return Trace(fx, xs, h0_, C0_, z, gate, slope, **rec)


@dataclass(frozen=True)
class Grads:
    """Gradients of L. ``grad_h``/``grad_C`` are TOTAL derivatives (every path
    through later steps that ``drop`` keeps); ``grad_gate[g]`` is w.r.t. the gate
    VALUE, ``grad_z[g]`` w.r.t. its pre-activation. ``params`` holds ∂L/∂W summed
    over time, under PARAM_NAMES."""

    grad_h: list
    grad_C: list
    grad_gate: dict
    grad_z: dict
    grad_z_y: list
    grad_x: list | None
    grad_h0: list
    grad_C0: list
    params: dict


def upstream(fx: Fixed, g, T: int, size: int, name: str) -> list:
    """T fixed-point vectors of ``size`` from per-step leaves (None = zeros)."""
    if g is None:
        return [[0] * size for _ in range(T)]
    rows = [fx.vector(v) for v in g]
    if len(rows) != T or any(len(r) != size for r in rows):
        raise ValueError(f"{name} must be {T} steps of {size} entries")
    return rows


def backward(weights, trace: Trace, grad_y=None, grad_h=None, grad_C=None, drop=(),
             input_gradients: bool = False, names=PARAM_NAMES) -> Grads:
    """BPTT from upstream gradients on every y_t, h_t and C_t (None = zeros).
    ``grad_x`` (Σ_g W_xgᵀ ∇z_g,t per step) is computed only with ``input_gradients``,
    and the weight gradients (sums over time) only for ``names``.

    From t = T down to 1:
        ∇h_t = W_yᵀ ∇z_y,t + grad_h_t + Σ_g W_hgᵀ ∇z_g,t+1           ["gates_next"]
        ∇C_t = o_t tanh'(C_t) ∇h_t ["h_to_C"] + f_{t+1} ∇C_{t+1} ["C_next"] + grad_C_t
        ∇o_t = tanh(C_t) ∇h_t   ∇f_t = C_{t-1} ∇C_t   ∇i_t = C̃_t ∇C_t   ∇C̃_t = i_t ∇C_t
        ∇z_g,t = (local derivative of gate g) ∇g_t
    A name in ``drop`` leaves the bracketed path out."""
    unknown = set(drop) - set(DROPS)
    if unknown:
        raise ValueError(f"unknown paths {sorted(unknown)}; known: {', '.join(DROPS)}")
    fx = trace.fx
    P = as_params(weights, fx)
    n, m, p, T = P.n, P.m, P.p, trace.T
    gy = upstream(fx, grad_y, T, p, "grad_y")
    gh_ext = upstream(fx, grad_h, T, n, "grad_h")
    gC_ext = upstream(fx, grad_C, T, n, "grad_C")
    zero = [0] * n
    gz_y = [[fx.mul(d, g) for d, g in zip(trace.dy[t], gy[t])] for t in range(T)]
    cols_y = [[P["W_y"][k][j] for k in range(p)] for j in range(n)]
    cols_h = [[P[f"W_h{g}"][a][j] for g in GATES for a in range(n)] for j in range(n)]
    cols_x = [[P[f"W_x{g}"][a][j] for g in GATES for a in range(n)] for j in range(m)]
    gh_all, gC_all = [None] * T, [None] * T
    gx_all = [None] * T if input_gradients else None
    g_gate = {g: [None] * T for g in GATES}
    g_z = {g: [None] * T for g in GATES}
    C_prev = trace.C_prev
    carry_h, carry_C = zero, zero
    for t in range(T - 1, -1, -1):
        gh = [fx.dot(cols_y[j], gz_y[t]) + gh_ext[t][j] + carry_h[j] for j in range(n)]
        o, dtC, f, slope = trace.o[t], trace.dtanhC[t], trace.f[t], trace.slope
        through_h = zero if "h_to_C" in drop else [fx.mul3(o[a], dtC[a], gh[a]) for a in range(n)]
        gC = [through_h[a] + carry_C[a] + gC_ext[t][a] for a in range(n)]
        # what each gate value multiplies: h_t = o_t tanh(C_t), C_t = f_t C_{t-1} + i_t C̃_t
        factor = {"o": trace.tanhC[t], "f": C_prev[t], "i": trace.Ct[t], "c": trace.i[t]}
        upstream_of = {"o": gh, "f": gC, "i": gC, "c": gC}
        for g in GATES:
            g_gate[g][t] = [fx.mul(a, b) for a, b in zip(factor[g], upstream_of[g])]
            g_z[g][t] = [fx.mul3(s, a, b) for s, a, b in zip(slope[g][t], factor[g], upstream_of[g])]
        gz_all = [v for g in GATES for v in g_z[g][t]]
        carry_h = zero if "gates_next" in drop else [fx.dot(cols_h[j], gz_all) for j in range(n)]
        carry_C = zero if "C_next" in drop else [fx.mul(f[a], gC[a]) for a in range(n)]
        gh_all[t], gC_all[t] = gh, gC
        if input_gradients:
            gx_all[t] = [fx.dot(cols_x[j], gz_all) for j in range(m)]
    weights_grads = weight_sums(trace, g_z, gz_y, {canonical(k) for k in names})
    return Grads(gh_all, gC_all, g_gate, g_z, gz_y, gx_all, carry_h, carry_C, weights_grads)


def _series(per_step: list, size: int) -> list:
    """Per-step vectors as one time series per entry, for exact sums over time."""
    return [[v[k] for v in per_step] for k in range(size)]


def weight_sums(trace: Trace, per_gate: dict, per_output: list, names) -> dict:
    """Σ_t of the outer products that make each weight's gradient, exactly, for
    ``names``: W_hg from (per_gate[g]_t, h_{t-1}), W_xg from (per_gate[g]_t, x_t),
    b_g from per_gate[g]_t, W_y and b_y likewise from per_output_t and h_t. (The
    error scales are the same sums of other per-step vectors.)"""
    fx = trace.fx
    n, m = len(trace.h0), len(trace.x[0])
    sources = {"W_h": _series(trace.h_prev, n), "W_x": _series(trace.x, m)}
    out = {}
    for name in names:
        per_step = per_output if name in ("W_y", "b_y") else per_gate[name[-1]]
        series = _series(per_step, len(per_step[0]) if per_step else 0)
        if name.startswith("b_"):
            out[name] = [sum(s) for s in series]
        else:
            source = _series(trace.h, n) if name == "W_y" else sources[name[:3]]
            out[name] = [[fx.dot(s, col) for col in source] for s in series]
    return out


def loss(weights, x, h0=None, C0=None, grad_y=None, grad_h=None, grad_C=None, fx: Fixed | None = None) -> int:
    """L = Σ_t grad_y_t·y_t + grad_h_t·h_t + grad_C_t·C_t from the forward pass alone,
    added exactly and rounded once."""
    trace = forward(weights, x, h0, C0, fx)
    fx, P = trace.fx, as_params(weights, trace.fx)
    total = 0
    for given, size, per_step in ((grad_y, P.p, trace.y), (grad_h, P.n, trace.h), (grad_C, P.n, trace.C)):
        if given is not None:
            for g, v in zip(upstream(fx, given, trace.T, size, "upstream"), per_step):
                total += sum(map(int.__mul__, g, v))
    return fx.round(total)
