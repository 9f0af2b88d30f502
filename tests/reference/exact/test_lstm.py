"""The exact homework LSTM (reference.exact) against three independent oracles:
the NumPy reference, central differences of its own forward pass at high
precision, and the symbolic engine; its arithmetic against mpmath; and the
stability case."""
from __future__ import annotations

import random
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from reference.exact import lstm as exact
from reference.exact.finite import central_differences
from reference.exact.fixed import Fixed, PrecisionError, exactly
from reference.numeric.lstm import PARAM_NAMES, LSTMParams, lstm_backward, lstm_forward
from reference.symbolic import evaluate as ev
from reference.symbolic.derive import unrolled

SHIFTS = {"saturated": (8.0, 30.0), "extreme": (200.0, 1000.0)}


def point(rng, n, m, p, T, regime="ordinary"):
    """Leaves of a random problem: weights (biases pushed to ±shift in the saturated
    regimes, each unit on its own side), x, h0, C0 and upstream gradients on y, h, C."""
    weights = LSTMParams.random(n, m, p, rng, scale=0.8).to_dict()
    if regime in SHIFTS:
        for name in weights:
            if name.startswith("b_"):
                size = weights[name].shape
                weights[name] = weights[name] + rng.choice([-1.0, 1.0], size=size) * rng.uniform(*SHIFTS[regime], size=size)
    leaves = dict(x=rng.normal(size=(T, m)), h0=rng.normal(size=n), C0=rng.normal(size=n),
                  grad_y=rng.normal(size=(T, p)), grad_h=rng.normal(size=(T, n)), grad_C=rng.normal(size=(T, n)))
    return weights, leaves


def rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def exact_norm_error(got, want) -> tuple[Fraction, Fraction]:
    """(‖got - want‖², ‖want‖²) of nested lists of Fractions, exactly."""
    if isinstance(want, list):
        parts = [exact_norm_error(g, w) for g, w in zip(got, want)]
        return sum((d for d, _ in parts), Fraction(0)), sum((s for _, s in parts), Fraction(0))
    return (got - want) ** 2, want ** 2


def fractions(fx: Fixed, value):
    if isinstance(value, list):
        return [fractions(fx, v) for v in value]
    return fx.exact(value)


# -- the NumPy reference ------------------------------------------------------------

@pytest.mark.parametrize("regime", ["ordinary", "saturated"])
def test_forward_and_every_gradient_agree_with_the_numpy_reference(regime):
    """Every state, output and gradient (weights, ∇h_t, ∇C_t, ∇x_t, ∇h_0, ∇C_0) within
    1e-12 normwise of reference.numeric.lstm, over random sizes and lengths."""
    rng = np.random.default_rng(11)
    worst = 0.0
    for _ in range(6):
        n, m, p = (int(v) for v in rng.integers(1, 5, size=3))
        T = int(rng.integers(1, 7))
        weights, leaves = point(rng, n, m, p, T, regime)

        def rounded(fx):
            trace = exact.forward(weights, leaves["x"], leaves["h0"], leaves["C0"], fx)
            grads = exact.backward(weights, trace, leaves["grad_y"], leaves["grad_h"], input_gradients=True)
            values = [trace.h, trace.C, trace.y, grads.grad_h, grads.grad_C, grads.grad_x, grads.grad_h0,
                      grads.grad_C0] + [grads.params[name] for name in PARAM_NAMES]
            return [fx.to_float(v) for v in values]

        ref_params = LSTMParams.from_dict(weights)
        ref_trace = lstm_forward(ref_params, leaves["x"], leaves["h0"], leaves["C0"])
        ref = lstm_backward(ref_params, ref_trace, leaves["grad_y"], leaves["grad_h"])
        want = [ref_trace.h, ref_trace.C, ref_trace.y, ref.grad_h, ref.grad_C, ref.grad_x, ref.grad_h0,
                ref.grad_C0] + [getattr(ref.params, name) for name in PARAM_NAMES]
        for got, want in zip(exactly(rounded, exact.precision(weights, leaves["x"], leaves["h0"])), want):
            if np.linalg.norm(want) > 0:
                worst = max(worst, rel_err(got, want))
    assert worst <= 1e-12


# -- finite differences of its own forward pass -----------------------------------------

@pytest.mark.parametrize("regime,seed", [("ordinary", 1), ("ordinary", 2), ("saturated", 3), ("extreme", 4)])
def test_every_gradient_agrees_with_exact_central_differences(regime, seed):
    """∂L/∂(every weight, x, h_0, C_0) by backward agrees with central differences of
    the exact loss L = Σ ∇y·y + ∇h·h + ∇C·C to 1e-25 relative (normwise per array),
    gates saturated at |z| up to 1000 included. (Differences stop refining at 1e-340,
    far below float64's range: a gradient of e^-2000 is checked only to that.)"""
    rng = np.random.default_rng(seed)
    n, m, p, T = (2, 1, 1, 2) if regime == "extreme" else (2, 3, 2, 3)
    weights, leaves = point(rng, n, m, p, T, regime)
    start = exact.precision(weights, leaves["x"], leaves["h0"])
    fine = Fixed(start.bits + 1200)
    trace = exact.forward(weights, leaves["x"], leaves["h0"], leaves["C0"], fine)
    grads = exact.backward(weights, trace, leaves["grad_y"], leaves["grad_h"], leaves["grad_C"],
                           input_gradients=True)
    want = {name: fractions(fine, grads.params[name]) for name in PARAM_NAMES}
    want |= {"x": fractions(fine, grads.grad_x), "h0": fractions(fine, grads.grad_h0),
             "C0": fractions(fine, grads.grad_C0)}

    def loss(values, fx):
        w = {name: values[name] for name in PARAM_NAMES}
        return exact.loss(w, values["x"], values["h0"], values["C0"], leaves["grad_y"], leaves["grad_h"],
                          leaves["grad_C"], fx=fx)

    size = sum(float(np.abs(leaves[k]).sum()) for k in ("grad_y", "grad_h")) \
        + float(np.abs(leaves["grad_C"]).sum()) * (T + 1 + float(np.abs(leaves["C0"]).max()))
    point_values = {**weights, "x": leaves["x"], "h0": leaves["h0"], "C0": leaves["C0"]}
    diffs = central_differences(loss, point_values, list(want), size=size, steps=T, fx=start, target=1e-28)
    for name, value in want.items():
        error, scale = exact_norm_error(diffs[name], value)
        assert error <= Fraction(1, 10 ** 50) * scale + Fraction(1, 10 ** 680), name
        assert scale > Fraction(1, 10 ** 680) or regime == "extreme", name


# -- the symbolic engine --------------------------------------------------------------------

@pytest.mark.parametrize("regime", ["ordinary", "saturated", "extreme"])
def test_scalar_weight_gradients_agree_with_the_symbolic_engine(regime):
    """The n = m = p = 1 case, three steps: every weight's gradient equals the SymPy
    derivation's numeric BPTT in mpmath (reference.symbolic.evaluate) to 1e-25."""
    g = unrolled("lstm", steps=3)
    rng = np.random.default_rng({"ordinary": 5, "saturated": 6, "extreme": 7}[regime])
    weights, leaves = point(rng, 1, 1, 1, 3, regime)
    homework = {name.replace("b_", "W_0"): float(v.reshape(-1)[0]) for name, v in weights.items()}
    values = {g.params[name][0]: v for name, v in homework.items()}
    values |= {g.inputs[t][0]: float(leaves["x"][t - 1, 0]) for t in (1, 2, 3)}
    values |= {g.values[("h", 0)][0]: float(leaves["h0"][0]), g.values[("C", 0)][0]: float(leaves["C0"][0])}
    # the symbolic engine writes σ' as σ(1 - σ): products of several e^-|z| need digits
    env = ev.forward(g, values, exact=True, dps=2000 if regime == "extreme" else None)
    with mpmath.workdps(env["dps"]):
        for k, (node, seed) in enumerate(sorted(g.seeds.items(), key=lambda item: item[0].name)):
            env[seed] = mpmath.mpf(float(leaves["grad_y"][k, 0]))
    symbolic = ev.backward(g, env, exact=True)

    # e^-|z| of several saturated gates multiply: 2048 more bits resolve them all
    fx = Fixed(exact.precision(homework, leaves["x"], leaves["h0"]).bits + 2048)
    trace = exact.forward(homework, leaves["x"], leaves["h0"], leaves["C0"], fx)
    grads = exact.backward(homework, trace, leaves["grad_y"])
    for name in homework:
        mine = fx.exact(grads.params[exact.canonical(name)][0] if name.startswith("W_0")
                        else grads.params[name][0][0])
        theirs = symbolic[g.params[name][0]]
        with mpmath.workdps(env["dps"] + 20):
            mine_mp = mpmath.mpf(mine.numerator) / mine.denominator
            assert abs(mine_mp - theirs) <= mpmath.mpf("1e-25") * abs(theirs), name


# -- the arithmetic -------------------------------------------------------------------------

@pytest.mark.parametrize("z", [0.0, 1e-30, 0.3, -0.99, 1.0, -1.0, 2.5, -7.0, 15.0, -30.0, 400.0, -1000.0])
def test_activations_and_their_derivatives_round_like_mpmath_at_600_digits(z):
    """σ(z), σ'(z), tanh(z), tanh'(z) rounded once equal mpmath's values rounded once,
    derivatives of size e^-1000 included (exactly retries with more bits when needed)."""
    def ours(fx):
        s, ds = fx.sigmoid(fx.of(z))
        t, dt = fx.tanh(fx.of(z))
        return tuple(fx.to_float(v) for v in (s, ds, t, dt))

    got = exactly(ours, Fixed.for_bound(abs(z)))
    with mpmath.workdps(1200):
        Z = mpmath.mpf(z)
        s, s_neg = 1 / (1 + mpmath.exp(-Z)), 1 / (1 + mpmath.exp(Z))
        want = (float(s), float(s * s_neg), float(mpmath.tanh(Z)), float(4 / (mpmath.exp(Z) + mpmath.exp(-Z)) ** 2))
    assert got == want


def test_a_rounding_the_precision_cannot_certify_is_refused_then_redone_finer():
    """σ'(-40) ≈ 4e-18 needs more bits than a precision chosen for |z| ≤ 1; to_float
    refuses it there, and exactly() recomputes until it is certain."""
    coarse = Fixed(100)
    with pytest.raises(PrecisionError):
        coarse.to_float(coarse.sigmoid(coarse.of(-40.0))[1])
    value = exactly(lambda fx: fx.to_float(fx.sigmoid(fx.of(-40.0))[1]), coarse)
    with mpmath.workdps(60):
        assert value == float(mpmath.exp(-40) / (1 + mpmath.exp(-40)) ** 2)


def test_sums_are_exact_so_their_order_cannot_matter():
    """A dot product of terms of wildly different sizes gives the same int in any order."""
    fx = Fixed(300)
    rnd = random.Random(3)
    a = [fx.of(rnd.gauss(0, 1) * 10.0 ** rnd.randint(-30, 30)) for _ in range(200)]
    b = [fx.of(rnd.gauss(0, 1)) for _ in range(200)]
    first = fx.dot(a, b)
    for _ in range(5):
        order = list(range(200))
        rnd.shuffle(order)
        assert fx.dot([a[k] for k in order], [b[k] for k in order]) == first


# -- dropped paths --------------------------------------------------------------------------

def test_each_dropped_path_is_exactly_the_recursion_without_its_term():
    """"C_next" leaves f_{t+1}∇C_{t+1} out of ∇C_t, "gates_next" the gates' paths out of
    ∇h_t, "h_to_C" o_t tanh'(C_t)∇h_t out of ∇C_t; each changes the weight gradients."""
    rng = np.random.default_rng(8)
    weights, leaves = point(rng, 3, 2, 2, 4)
    # with "h_to_C" and no upstream on C, ∇C_t is exactly 0: certifying a 0 takes 1140 bits
    trace = exact.forward(weights, leaves["x"], leaves["h0"], leaves["C0"], Fixed(1200))
    fx, P = trace.fx, exact.as_params(weights, trace.fx)
    full = exact.backward(weights, trace, leaves["grad_y"])
    for drop in exact.DROPS:
        g = exact.backward(weights, trace, leaves["grad_y"], drop=(drop,))
        for t in range(trace.T):
            local_h = [fx.dot([P["W_y"][k][j] for k in range(P.p)], g.grad_z_y[t]) for j in range(P.n)]
            through_h = [fx.mul3(o, d, h) for o, d, h in zip(trace.o[t], trace.dtanhC[t], g.grad_h[t])]
            if drop == "gates_next":
                assert g.grad_h[t] == local_h
            if drop == "C_next":
                assert g.grad_C[t] == through_h
            if drop == "h_to_C":
                carried = [fx.mul(f, c) for f, c in zip(trace.f[t + 1], g.grad_C[t + 1])] if t + 1 < trace.T else [0] * P.n
                assert g.grad_C[t] == carried
        assert all(fx.to_float(g.params[k]).tolist() != fx.to_float(full.params[k]).tolist()
                   for k in ("W_hi", "W_xf", "b_o")), drop
    zero = exact.backward(weights, trace, leaves["grad_y"], drop=("h_to_C",))
    assert all(v == 0 for step in zero.grad_C for v in step)
    assert fx.to_float(zero.params["W_hi"]).tolist() == [[0.0] * 3] * 3
    with pytest.raises(ValueError, match="unknown paths"):
        exact.backward(weights, trace, leaves["grad_y"], drop=("C_prev",))


# -- the stability case ---------------------------------------------------------------------

def test_the_stability_case_is_finite_certified_and_agrees_with_numpy():
    """T = 1000, forget bias +15, input bias -15, n = 4: every gradient rounds with
    certainty at the precision chosen up front, is finite, agrees with the NumPy
    reference to 1e-12, and ∏f stays within 1e-3 of 1."""
    rng = np.random.default_rng(9)
    params = LSTMParams.random(4, 3, 2, rng, scale=0.1, forget_bias=15.0, input_bias=-15.0)
    x, h0, C0, grad_y = rng.normal(size=(1000, 3)), rng.normal(size=4), rng.normal(size=4), rng.normal(size=(1000, 2))
    weights = params.to_dict()
    trace = exact.forward(weights, x, h0, C0)
    grads = exact.backward(weights, trace, grad_y)
    ref = lstm_backward(params, lstm_forward(params, x, h0, C0), grad_y)
    for name in PARAM_NAMES:
        got = trace.fx.to_float(grads.params[name])          # raises PrecisionError if not certain
        assert np.all(np.isfinite(got))
        assert rel_err(got, getattr(ref.params, name)) <= 1e-12, name
    f = [trace.fx.exact(v) for step in trace.f for v in step[:1]]
    product = Fraction(1)
    for v in f:
        product *= v
    assert abs(float(product) - 1) < 1e-3
