"""The scale of the rounding error of a correct float64 BPTT in the homework's value form.

A student writes σ' as f(1 - f) and tanh' as 1 - C̃² from rounded gate values,
and sums products over the sequence; a correct answer may then be off by a few
ε times the scale computed here, however much its true terms cancel or vanish
at saturation, while a wrong or missing term is off by far more.

The scale is a first-order running error bound: each product of the sweep adds
its own rounding at the scale of its absolute-value form (f(1 + f) for
f(1 - f), the error of 1 - f from a rounded f; 1 + C̃² for 1 - C̃²), and the
errors already made travel backwards with the TRUE factors |σ'(z)|, |tanh'|,
|f|. Carrying them with the absolute-value factors instead would let a path
whose true gain is σ'(15) ≈ 3e-7 per step grow like 2^T (1e44 over 1,000
steps, which accepts any answer). All terms are non-negative, so nothing
cancels; everything is exact fixed-point arithmetic (reference.exact.fixed)
and the caller rounds once.
"""
from __future__ import annotations

from dataclasses import replace

from .lstm import GATES, PARAM_NAMES, Grads, Trace, as_params, canonical, upstream, weight_sums


def _abs(rows):
    return [[abs(v) for v in row] for row in rows]


def bptt_scale(weights, trace: Trace, grads: Grads, grad_y, names=PARAM_NAMES) -> dict:
    """Per weight of ``names``, the error scale of a value-form BPTT of
    L = Σ_t grad_y_t·y_t over the whole of ``trace``; ``grads`` is the true
    backward of the same loss. Fixed-point ints at ``trace.fx``."""
    fx = trace.fx
    P = as_params(weights, fx)
    n, p, T = P.n, P.p, trace.T
    one = fx.one
    W = {name: _abs(P[name]) if name.startswith("W") else [abs(v) for v in P[name]] for name in P.values}
    gy = _abs(upstream(fx, grad_y, T, p, "grad_y"))
    a_gate = {g: _abs(trace.gate[g]) for g in GATES}
    tanh_C = _abs(trace.tanhC)
    # what multiplies each gate's upstream gradient: ∇f = C_{t-1}∇C, ∇i = C̃∇C, ∇o = tanh(C)∇h, ∇C̃ = i∇C
    factor = {"f": _abs(trace.C_prev), "i": a_gate["c"], "o": tanh_C, "c": a_gate["i"]}
    # |terms| of the value-form derivatives: f(1 + f) for f(1 - f), 1 + C̃² for 1 - C̃²
    abs_slope = {g: [[fx.mul(v, one + v) for v in row] for row in a_gate[g]] for g in "fio"}
    abs_slope["c"] = [[one + fx.mul(v, v) for v in row] for row in a_gate["c"]]
    # the y_t path of every ∇h_t: y(1 + y)|∇y| is the rounding of y(1 - y)∇y
    e_zy = [[fx.mul3(y, one + y, g) + abs(d) for y, g, d in zip(trace.y[t], gy[t], grads.grad_z_y[t])]
            for t in range(T)]
    cols_y = [[W["W_y"][k][j] for k in range(p)] for j in range(n)]
    cols_h = [[W[f"W_h{g}"][a][j] for g in GATES for a in range(n)] for j in range(n)]
    totals = {g: [None] * T for g in GATES}     # |∇z_g,t| plus the error made on it
    carry_h, carry_C = [0] * n, [0] * n
    for t in range(T - 1, -1, -1):
        gh = [abs(v) for v in grads.grad_h[t]]
        gC = [abs(v) for v in grads.grad_C[t]]
        o, dtC, tC = a_gate["o"][t], trace.dtanhC[t], tanh_C[t]
        e_h = [fx.dot(cols_y[j], e_zy[t]) + carry_h[j] for j in range(n)]
        e_C = [fx.mul(o[a], fx.mul(dtC[a], e_h[a]) + fx.mul(one + fx.mul(tC[a], tC[a]), gh[a])) + carry_C[a]
               for a in range(n)]
        up_C = [e_C[a] + gC[a] for a in range(n)]
        up = {"f": up_C, "i": up_C, "o": [e_h[a] + gh[a] for a in range(n)], "c": up_C}
        for g in GATES:
            true_slope, gate_grad, gz = trace.slope[g][t], grads.grad_gate[g][t], grads.grad_z[g][t]
            totals[g][t] = [fx.mul3(true_slope[a], factor[g][t][a], up[g][a])   # errors carried in
                            + fx.mul(abs_slope[g][t][a], abs(gate_grad[a]))      # this product's rounding
                            + abs(gz[a]) for a in range(n)]
        stacked = [v for g in GATES for v in totals[g][t]]
        carry_h = [fx.dot(cols_h[j], stacked) for j in range(n)]
        carry_C = [fx.mul(a_gate["f"][t][a], up_C[a]) for a in range(n)]
    # every source of an outer product counted by its absolute value
    absolute = replace(trace, x=_abs(trace.x), h0=[abs(v) for v in trace.h0], h=_abs(trace.h))
    return weight_sums(absolute, totals, e_zy, {canonical(k) for k in names})
