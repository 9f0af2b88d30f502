"""Tasks of the vector LSTM homework: gate gradients, one backward step, BPTT.

The student works in the homework's notation (W_hf, W_xf, W_0f, ...) with
column vectors; the NumPy reference (reference.numeric.lstm) is the oracle.
Magnitudes follow the value form a student writes (σ' as f(1-f), tanh' as
1 - C̃²). Within one step they are its absolute-value form (1 - f becomes
1 + f); along a sequence each product adds its rounding at that scale while
the errors already made travel back with the true factors, so that correct
float64 answers pass however much the true terms cancel or vanish at
saturation, over 1,000 steps too, while a wrong or missing term fails.
"""
from __future__ import annotations

import numpy as np

from reference.numeric.activations import dsigmoid, dtanh
from reference.numeric.lstm import GATES, PARAM_NAMES, LSTMParams, lstm_backward, lstm_forward

# The homework writes the biases W_0f ...; the reference calls them b_f ...
HOMEWORK_NAMES = tuple(name.replace("b_", "W_0") for name in PARAM_NAMES)
TO_NUMERIC = dict(zip(HOMEWORK_NAMES, PARAM_NAMES))
GATE_WEIGHTS = HOMEWORK_NAMES[:12]          # what one step of the cell uses (no W_y, W_0y)
STABILITY_T = 1000
FORGET_BIAS, INPUT_BIAS = 15.0, -15.0
BIAS_SHIFT = {"saturated": (8.0, 30.0), "extreme": (200.0, 1000.0)}
CACHE_KEYS = ("x", "h_prev", "C_prev", "f", "i", "o", "Ct", "C")


def draw_sizes(rng) -> tuple[int, int, int]:
    """Hidden, input and output sizes. Kept distinct from each other as often as
    possible so that a transposed matrix shows up as a wrong shape."""
    n = int(rng.integers(2, 5))
    m = int(rng.choice([k for k in (1, 2, 3, 4) if k != n]))
    p = int(rng.choice([k for k in (1, 2, 3) if k not in (n, m)] or [1]))
    return n, m, p


def draw_params(rng, regime: str, n: int, m: int, p: int) -> LSTMParams:
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


def loss(params: LSTMParams, x, h0, C0, grad_y) -> float:
    """L = Σ_t ∇y_t · y_t, the loss whose upstream gradients are grad_y."""
    return float(np.sum(lstm_forward(params, x, h0, C0).y * grad_y))


def five_point(f, x0: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """∂f/∂x0 entry by entry from the fourth-order central stencil: its truncation
    error (~step⁴) and rounding error (~ε/step) are both far below 1e-9 here,
    which a two-point difference cannot reach at once."""
    x0 = np.asarray(x0, dtype=float)
    out = np.empty(x0.shape)
    for idx in np.ndindex(*x0.shape):
        values = []
        for k in (2, 1, -1, -2):
            moved = x0.copy()
            moved[idx] += k * step
            values.append(f(moved))
        out[idx] = (-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * step)
    return out


def _label(regime: str, T: int, n: int, m: int, p: int) -> str:
    sizes = f"n = {n}, m = {m}, p = {p}"
    return {"ordinary": f"T = {T}, {sizes}",
            "saturated": f"T = {T}, {sizes}, gates saturated (|pre-activation| 8…30)",
            "stability": f"T = {T}, {sizes}, forget gates ≈ 1 and input gates ≈ 0",
            "extreme": f"T = {T}, {sizes}, gates saturated up to |pre-activation| 1000"}[regime]


# -- one step ----------------------------------------------------------------

def _step_problem(rng, regime: str):
    """A short sequence with upstream gradients on every y_t and h_t, so that ∇h_t
    and ∇C_t at every step are non-trivial totals, as the homework defines them."""
    params, x, h0, C0, grad_y = sequence(rng, regime, short=(2, 6))
    trace = lstm_forward(params, x, h0, C0)
    grads = lstm_backward(params, trace, grad_y, rng.normal(size=trace.h.shape))
    return params, trace, grads


def _gate_magnitudes(v: dict, grad_h, grad_C) -> dict[str, np.ndarray]:
    """|terms| of ∇o, ∇f, ∇i, ∇C̃ of one step (keys o, f, i, c)."""
    a_h, a_C = np.abs(grad_h), np.abs(grad_C)
    return {"o": np.abs(np.tanh(v["C"])) * a_h, "f": np.abs(v["C_prev"]) * a_C,
            "i": np.abs(v["Ct"]) * a_C, "c": np.abs(v["i"]) * a_C}


def _slopes(v: dict) -> dict[str, np.ndarray]:
    """|terms| of σ' and tanh' in the value form: f(1+f) for f(1-f), 1+C̃² for 1-C̃²."""
    slope = {g: np.abs(v[g]) * (1 + np.abs(v[g])) for g in "fio"}
    slope["c"] = 1 + np.asarray(v["Ct"]) ** 2
    return slope


class GateGradients:
    """``gate_gradients(grad_h, grad_C, C, C_prev, i, Ct) -> (grad_o, grad_f, grad_i, grad_Ct)``:
    the gradients with respect to the gate VALUES of one step, given the total
    ∇h_t and ∇C_t."""

    regimes = ("ordinary", "saturated")
    supports_gradcheck = False

    def __init__(self, outputs=()):
        if outputs and len(outputs) != 4:
            raise ValueError(f"gate_gradients returns 4 arrays; outputs names {len(outputs)}")

    def case(self, rng, regime: str):
        params, trace, grads = _step_problem(rng, regime)
        t = int(rng.integers(trace.T))
        v = {"C": trace.C[t], "C_prev": trace.C_prev[t], "i": trace.i[t], "Ct": trace.Ct[t]}
        args = (grads.grad_h[t].copy(), grads.grad_C[t].copy(), *(v[k].copy() for k in ("C", "C_prev", "i", "Ct")))
        expected = tuple(getattr(grads, k)[t].copy() for k in ("grad_o", "grad_f", "grad_i", "grad_Ct"))
        mags = _gate_magnitudes(v, grads.grad_h[t], grads.grad_C[t])
        magnitude = tuple(mags[g] for g in "ofic")
        return args, expected, magnitude, f"step {t + 1} of {trace.T}, n = {params.n}" + _saturated(regime)


def _saturated(regime: str) -> str:
    return ", gates saturated (|pre-activation| 8…30)" if regime == "saturated" else ""


class StepBackward:
    """``step_backward(grad_h, grad_C, cache, weights) -> (grad_h_prev, grad_C_prev, grads)``
    as the pack's driver returns it: the step's share of ∇h_{t-1} and ∇C_{t-1},
    then the step's gradient of each gate weight in GATE_WEIGHTS order.

    The step is the first of a short sequence, so the reference's ∇h_0 and ∇C_0
    are exactly this step's outputs."""

    regimes = ("ordinary", "saturated")
    supports_gradcheck = True

    def __init__(self, outputs=()):
        if outputs and len(outputs) != 2 + len(GATE_WEIGHTS):
            raise ValueError(f"step_backward returns {2 + len(GATE_WEIGHTS)} arrays; outputs names {len(outputs)}")

    def case(self, rng, regime: str):
        params, trace, grads = _step_problem(rng, regime)
        values = (trace.x[0], trace.h0, trace.C0, trace.f[0], trace.i[0], trace.o[0], trace.Ct[0], trace.C[0])
        cache = {k: np.array(v) for k, v in zip(CACHE_KEYS, values)}
        weights = homework_weights(params)
        args = (grads.grad_h[0].copy(), grads.grad_C[0].copy(), cache, weights)
        gz = {g: getattr(grads, f"grad_z_{g}")[0] for g in GATES}
        per_weight = {}
        for g in GATES:
            per_weight[f"W_h{g}"] = np.outer(gz[g], cache["h_prev"])
            per_weight[f"W_x{g}"] = np.outer(gz[g], cache["x"])
            per_weight[f"W_0{g}"] = gz[g].copy()
        expected = (grads.grad_h0.copy(), grads.grad_C0.copy(), *(per_weight[w] for w in GATE_WEIGHTS))
        label = f"step 1 of {trace.T}, n = {params.n}, m = {params.m}" + _saturated(regime)
        return args, expected, self.magnitude(args), label

    @staticmethod
    def magnitude(args) -> tuple:
        grad_h, grad_C, cache, weights = args
        gate, slope = _gate_magnitudes(cache, grad_h, grad_C), _slopes(cache)
        a_z = {g: slope[g] * gate[g] for g in GATES}
        a_h_prev = sum(np.abs(weights[f"W_h{g}"]).T @ a_z[g] for g in GATES)
        out = {}
        for g in GATES:
            out[f"W_h{g}"] = np.outer(a_z[g], np.abs(cache["h_prev"]))
            out[f"W_x{g}"] = np.outer(a_z[g], np.abs(cache["x"]))
            out[f"W_0{g}"] = a_z[g]
        return (a_h_prev, np.abs(cache["f"]) * np.abs(grad_C), *(out[w] for w in GATE_WEIGHTS))

    @staticmethod
    def finite_difference(args) -> tuple:
        """Central differences of one reference forward step. The step's loss is
        L = ∇h_t·h_t + b·C_t, where b is the part of ∇C_t that does not come
        through h_t (∇C_t minus o_t ⊙ tanh'(C_t) ⊙ ∇h_t)."""
        grad_h, grad_C, cache, weights = args
        b = grad_C - cache["o"] * (1 - np.tanh(cache["C"]) ** 2) * grad_h
        x = cache["x"][None]

        def step_loss(w, h_prev, C_prev):
            trace = lstm_forward(numeric_params(w), x, h_prev, C_prev)
            return float(trace.h[0] @ grad_h + trace.C[0] @ b)

        h_prev, C_prev = cache["h_prev"], cache["C_prev"]
        out = [five_point(lambda v: step_loss(weights, v, C_prev), h_prev),
               five_point(lambda v: step_loss(weights, h_prev, v), C_prev)]
        for name in GATE_WEIGHTS:
            out.append(five_point(lambda v: step_loss({**weights, name: v}, h_prev, C_prev), weights[name]))
        return tuple(out)


# -- a whole sequence --------------------------------------------------------

def bptt_magnitude(params: LSTMParams, trace, grads, grad_y: np.ndarray) -> dict[str, np.ndarray]:
    """The scale of the rounding error of a correct value-form BPTT, per weight
    (homework names), as a first-order running error bound: each product of
    the sweep adds its own rounding at the scale of its absolute-value form
    (f(1+f) for f(1-f): the error of 1-f from a rounded f), and the errors
    already made travel backwards with the TRUE factors |σ'|, |tanh'|, |f|.
    Carrying them with the absolute-value factors instead would let a path
    whose true gain is σ'(15) ≈ 3e-7 per step grow like 2^T."""
    W = {k: np.abs(v) for k, v in params.to_dict().items()}
    f, i, o, Ct = (np.abs(getattr(trace, k)) for k in ("f", "i", "o", "Ct"))
    y, tanh_C, dtanh_C = np.abs(trace.y), np.abs(np.tanh(trace.C)), dtanh(trace.C)
    C_prev, h_prev = np.abs(trace.C_prev), np.abs(trace.h_prev)
    # the four gates stacked on a middle axis, in GATES order (f, i, o, c): (T, 4, n)
    true_slope = np.stack([dsigmoid(trace.z_f), dsigmoid(trace.z_i), dsigmoid(trace.z_o), dtanh(trace.z_c)], axis=1)
    abs_slope = np.stack([f * (1 + f), i * (1 + i), o * (1 + o), 1 + Ct ** 2], axis=1)
    factor = np.stack([C_prev, Ct, tanh_C, i], axis=1)      # ∇f = C_prev ∇C, ∇i = C̃ ∇C, ∇o = tanh(C) ∇h, ∇C̃ = i ∇C
    gate = np.abs(np.stack([grads.grad_f, grads.grad_i, grads.grad_o, grads.grad_Ct], axis=1))
    own = abs_slope * gate                                  # each step's own rounding of σ'(z) ∇gate
    carried = true_slope * factor                           # what an error in ∇h or ∇C becomes
    gz = np.abs(np.stack([getattr(grads, f"grad_z_{g}") for g in GATES], axis=1))
    W_h = np.concatenate([W[f"W_h{g}"] for g in GATES])     # (4n, n): Σ_g |W_hg|ᵀ e_g in one product
    gh, gC = np.abs(grads.grad_h), np.abs(grads.grad_C)
    e_zy = y * (1 + y) * np.abs(grad_y) + np.abs(grads.grad_z_y)
    e_hy = e_zy @ W["W_y"]                                  # the y_t path of every ∇h_t at once
    T, n = f.shape
    total = np.empty((T, 4, n))                             # |∇z| plus the error made on it
    carry_h, carry_C = np.zeros(n), np.zeros(n)
    for t in range(T - 1, -1, -1):
        e_h = e_hy[t] + carry_h
        e_C = o[t] * (dtanh_C[t] * e_h + (1 + tanh_C[t] ** 2) * gh[t]) + carry_C
        up_C = e_C + gC[t]
        total[t] = carried[t] * np.stack([up_C, up_C, e_h + gh[t], up_C]) + own[t] + gz[t]
        carry_h = total[t].reshape(-1) @ W_h
        carry_C = f[t] * up_C
    x = np.abs(trace.x)
    out = {}
    for k, g in enumerate(GATES):
        out[f"W_h{g}"] = total[:, k].T @ h_prev
        out[f"W_x{g}"] = total[:, k].T @ x
        out[f"W_0{g}"] = total[:, k].sum(axis=0)
    out["W_y"] = e_zy.T @ np.abs(trace.h)
    out["W_0y"] = e_zy.sum(axis=0)
    return out


class WeightGradients:
    """``bptt(weights, x, h0, C0, grad_y)`` reduced to the listed weights: one
    weight gives its matrix (``grad_W_hi``), several give a tuple in that order
    (the pack's driver turns the student's dict into it). L = Σ_t ∇y_t · y_t,
    through every step (BPTT)."""

    regimes = ("ordinary", "saturated", "stability", "extreme")
    supports_gradcheck = True

    def __init__(self, weights=HOMEWORK_NAMES, outputs=()):
        self.weights = (weights,) if isinstance(weights, str) else tuple(weights)
        unknown = [w for w in self.weights if w not in TO_NUMERIC]
        if unknown or not self.weights:
            raise ValueError(f"unknown weights {unknown}; known: {', '.join(HOMEWORK_NAMES)}")
        if outputs and len(outputs) != len(self.weights):
            raise ValueError(f"{len(self.weights)} weights but outputs names {len(outputs)}")

    def _pick(self, by_name: dict):
        picked = tuple(np.asarray(by_name[w], dtype=float) for w in self.weights)
        return picked[0] if len(picked) == 1 else picked

    def case(self, rng, regime: str):
        params, x, h0, C0, grad_y = sequence(rng, regime)
        args = (homework_weights(params), x, h0, C0, grad_y)
        trace = lstm_forward(params, x, h0, C0)
        grads = lstm_backward(params, trace, grad_y)
        expected = self._pick({hw: getattr(grads.params, TO_NUMERIC[hw]) for hw in HOMEWORK_NAMES})
        magnitude = self._pick(bptt_magnitude(params, trace, grads, grad_y))
        return args, expected, magnitude, _label(regime, len(x), params.n, params.m, params.p)

    def finite_difference(self, args):
        weights, x, h0, C0, grad_y = args
        return self._pick({name: five_point(lambda v: loss(numeric_params({**weights, name: v}), x, h0, C0, grad_y),
                                            weights[name])
                           for name in self.weights})


TASKS = {
    "vector_gate_gradients": GateGradients,
    "vector_step_backward": StepBackward,
    "vector_weight_gradients": WeightGradients,
}
