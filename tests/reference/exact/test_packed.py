"""reference.exact.packed: the exact packed-layout LSTM against the NumPy
reference (an independent float64 oracle, to 1e-12) and against central
differences of its own forward pass in exact arithmetic (to 1e-25), at
ordinary, saturated and extreme points; its exp, activations and certified
rounding; and its answers with a path dropped against NumPy code that makes
those very mistakes."""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from reference.exact import packed as ex
from reference.numeric import lstm as hw
from reference.numeric import packed as nu

SHIFTS = {"ordinary": None, "saturated": (8.0, 30.0), "extreme": (200.0, 1000.0)}


def leaves(seed: int, N: int, T: int, D: int, H: int, regime: str = "ordinary") -> dict:
    rng = np.random.default_rng(seed)
    k = dict(x=rng.normal(size=(N, T, D)), h0=rng.normal(size=(N, H)), c0=rng.normal(size=(N, H)),
             Wx=0.8 * rng.normal(size=(D, 4 * H)), Wh=0.8 * rng.normal(size=(H, 4 * H)),
             b=0.8 * rng.normal(size=4 * H), dh=rng.normal(size=(N, T, H)), dc=rng.normal(size=(N, H)))
    if SHIFTS[regime]:
        shift = rng.choice([-1.0, 1.0], size=4 * H) * rng.uniform(*SHIFTS[regime], size=4 * H)
        if regime == "extreme":
            shift[::2] = 0.0          # some units unsaturated, so that no gradient is 0 to float64
        k["b"] = k["b"] + shift
    return k


def exact_run(k: dict, c0: bool = True, dc: bool = True, fx=None):
    """(fx, trace, grads) of the exact engine for the leaves ``k``."""
    fx = fx or ex.precision(x=k["x"], h=k["h0"], c=k["c0"], Wx=k["Wx"], Wh=k["Wh"], b=k["b"])
    X, H0, C0, WX, WH, B, DH, DC = (ex.array(fx, k[n]) for n in ("x", "h0", "c0", "Wx", "Wh", "b", "dh", "dc"))
    trace = ex.forward(fx, X, H0, WX, WH, B, c0=C0 if c0 else None)
    return fx, trace, ex.backward(fx, trace, WX, WH, DH, DC if dc else None)


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def fractions(fx, arr) -> list:
    return [Fraction(int(v), fx.one) for v in np.asarray(arr, dtype=object).ravel().tolist()]


def exact_rel(got: list, want: list) -> float:
    """Normwise relative distance of two lists of Fractions, computed exactly."""
    diff = sum((g - w) ** 2 for g, w in zip(got, want))
    return math.sqrt(float(diff / sum(w * w for w in want)))


# -- against the NumPy reference ------------------------------------------------------------

# (seed, N, T, D, H)
SIZES = [(0, 2, 3, 4, 3), (1, 1, 5, 1, 1), (2, 3, 2, 3, 5), (3, 3, 6, 5, 4)]


@pytest.mark.parametrize("regime", ["ordinary", "saturated"])
@pytest.mark.parametrize("size", SIZES, ids=[f"seed{s}-N{N}T{T}D{D}H{H}" for s, N, T, D, H in SIZES])
def test_a_sequence_agrees_with_the_numpy_reference(size, regime):
    """h and (dx, dh0, dWx, dWh, db) of lstm_forward/lstm_backward (zero initial
    cell) to 1e-12 normwise."""
    k = leaves(*size, regime=regime)
    fx, trace, grads = exact_run(k, c0=False, dc=False)
    h, cache = nu.lstm_forward(k["x"], k["h0"], k["Wx"], k["Wh"], k["b"])
    assert rel(ex.floats(fx, trace.h), h) < 1e-12
    for name, got, want in zip(("dx", "dh0", "dWx", "dWh", "db"),
                               (grads.dx, grads.dh0, grads.dWx, grads.dWh, grads.db), nu.lstm_backward(k["dh"], cache)):
        assert rel(ex.floats(fx, got), want) < 1e-12, name


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "extreme"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_step_agrees_with_the_numpy_reference(seed, regime):
    """next_h, next_c and (dx, dprev_h, dprev_c, dWx, dWh, db) of one step from a
    given prev_c with upstream dnext_c: T = 1 of the sequence engine."""
    k = leaves(seed, 3, 1, 4, 3, regime)
    fx, trace, grads = exact_run(k)
    next_h, next_c, cache = nu.lstm_step_forward(k["x"][:, 0], k["h0"], k["c0"], k["Wx"], k["Wh"], k["b"])
    assert rel(ex.floats(fx, trace.next_h[0]), next_h) < 1e-12
    assert rel(ex.floats(fx, trace.next_c[0]), next_c) < 1e-12
    ours = (grads.dx[:, 0], grads.dh0, grads.dc0, grads.dWx, grads.dWh, grads.db)
    for name, got, want in zip(("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), ours,
                               nu.lstm_step_backward(k["dh"][:, 0], k["dc"], cache)):
        assert rel(ex.floats(fx, got), want) < 1e-12, name


# -- against its own finite differences -------------------------------------------------------

@pytest.mark.parametrize("regime,size", [("ordinary", (4, 2, 3, 2, 3)), ("ordinary", (5, 1, 1, 3, 2)),
                                         ("saturated", (6, 2, 2, 2, 2)), ("extreme", (7, 1, 2, 2, 2))])
def test_gradients_agree_with_exact_finite_differences(regime, size):
    """Every gradient (dx, dh0, dc0, dWx, dWh, db of L = Σ <dh_t, h_t> + <dc, c_T>)
    against central differences of the exact forward pass: 1e-25 normwise, also
    where gates saturate at |a| = 1000 and derivatives are e^-1000 small."""
    k = leaves(*size, regime=regime)
    fx, _, grads = exact_run(k)
    fd = ex.finite_difference(k["x"], k["h0"], k["c0"], k["Wx"], k["Wh"], k["b"], k["dh"], k["dc"])
    ours = (grads.dx, grads.dh0, grads.dc0, grads.dWx, grads.dWh, grads.db)
    for name, got, quotient in zip(("dx", "dh0", "dc0", "dWx", "dWh", "db"), ours, fd):
        assert exact_rel(list(quotient.ravel()), fractions(fx, got)) < 1e-25, name


# -- the answers with a path dropped -----------------------------------------------------------

def numpy_sequence(k, drop=()):
    """A NumPy forward and backward that makes the named mistakes on purpose."""
    sig = nu.sigmoid
    x, h, Wx, Wh, b, dh = k["x"], k["h0"], k["Wx"], k["Wh"], k["b"], k["dh"]
    N, T, _ = x.shape
    H = h.shape[1]
    c, caches, hs = np.zeros((N, H)), [], []
    for t in range(T):
        a = x[:, t] @ Wx + h @ Wh + b
        i, f, o, g = sig(a[:, :H]), sig(a[:, H:2 * H]), sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
        caches.append((x[:, t], h, c, a, i, f, o, g))
        c = (c if "forget_fwd" in drop else f * c) + i * g
        h = o * np.tanh(c)
        hs.append(h)
    dWx, dWh, db, dx = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b), np.zeros_like(x)
    carry_h, carry_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        xt, hp, cp, a, i, f, o, g = caches[t]
        c_t = f * cp + i * g
        up = dh[:, t] + (0 if "recurrent" in drop else carry_h)
        dc = (0 if "cell_carry" in drop else carry_c) + up * o * nu.dtanh(c_t)
        da = np.hstack([dc * g * nu.dsigmoid(a[:, :H]), dc * cp * nu.dsigmoid(a[:, H:2 * H]),
                        up * np.tanh(c_t) * nu.dsigmoid(a[:, 2 * H:3 * H]), dc * i * nu.dtanh(a[:, 3 * H:])])
        dx[:, t], dWx, dWh, db = da @ Wx.T, dWx + xt.T @ da, dWh + hp.T @ da, db + da.sum(axis=0)
        carry_h, carry_c = da @ Wh.T, (dc if "forget" in drop else dc * f)
    return np.stack(hs, axis=1), (dx, carry_h, dWx, dWh, db)


@pytest.mark.parametrize("path", ["recurrent", "cell_carry", "forget"])
def test_a_backward_with_a_path_dropped_is_that_mistake(path):
    k = leaves(8, 3, 4, 2, 3)
    fx = ex.precision(x=k["x"], h=k["h0"], c=0 * k["h0"], Wx=k["Wx"], Wh=k["Wh"], b=k["b"])
    X, H0, WX, WH, B, DH = (ex.array(fx, k[n]) for n in ("x", "h0", "Wx", "Wh", "b", "dh"))
    grads = ex.backward(fx, ex.forward(fx, X, H0, WX, WH, B), WX, WH, DH, drop={path})
    _, want = numpy_sequence(k, {path})
    _, right = numpy_sequence(k)
    for got, w, r in zip((grads.dx, grads.dh0, grads.dWx, grads.dWh, grads.db), want, right):
        assert rel(ex.floats(fx, got), w) < 1e-12
    assert max(rel(w, r) for w, r in zip(want, right)) > 1e-3


def test_a_forward_without_the_forget_gate_is_that_mistake():
    k = leaves(9, 2, 5, 3, 2)
    fx = ex.precision(x=k["x"], h=k["h0"], c=0 * k["h0"], Wx=k["Wx"], Wh=k["Wh"], b=k["b"])
    X, H0, WX, WH, B = (ex.array(fx, k[n]) for n in ("x", "h0", "Wx", "Wh", "b"))
    got = ex.floats(fx, ex.forward(fx, X, H0, WX, WH, B, drop={"forget"}).h)
    assert rel(got, numpy_sequence(k, {"forget_fwd"})[0]) < 1e-12
    with pytest.raises(ValueError, match="unknown paths"):
        ex.forward(fx, X, H0, WX, WH, B, drop={"peephole"})


# -- the cell Jacobian --------------------------------------------------------------------------

def homework_trace(k):
    """The NumPy homework reference on the same one-sequence problem (W_y = 0)."""
    params = {**{name: np.asarray(v) for name, v in nu.unpack_params(k["Wx"], k["Wh"], k["b"]).items()},
              "W_y": np.zeros((1, k["h0"].shape[1])), "b_y": np.zeros(1)}
    P = hw.LSTMParams.from_dict(params)
    return P, hw.lstm_forward(P, k["x"][0], k["h0"][0], k["c0"][0])


@pytest.mark.parametrize("regime,seed,tau,k_back", [("ordinary", 10, 5, 3), ("ordinary", 11, 4, 4),
                                                    ("saturated", 12, 4, 2)])
def test_the_cell_jacobian_agrees_with_numpy_and_with_finite_differences(regime, seed, tau, k_back):
    """dC_τ/dC_{τ-k} through every gate: the NumPy reference's to 1e-12, and central
    differences of the exact forward (C_{τ-k} moved, h_{τ-k} = o tanh C_{τ-k} with
    it) to 1e-25."""
    k = leaves(seed, 1, tau, 2, 3, regime)
    fx, trace, _ = exact_run(k)
    WH = ex.array(fx, k["Wh"])
    J = ex.cell_jacobian(fx, trace, WH, tau, k_back)
    P, tr = homework_trace(k)
    assert rel(ex.floats(fx, J), hw.cell_jacobian(P, tr, tau, k_back)) < 1e-12

    s = tau - k_back
    fine = ex.Fixed(fx.bits + 64)
    X, WX, B = (ex.array(fine, k[n]) for n in ("x", "Wx", "b"))
    WH = ex.array(fine, k["Wh"])
    H0, C0 = ex.array(fine, k["h0"]), ex.array(fine, k["c0"])
    base = ex.forward(fine, X, H0, WX, WH, B, c0=C0)
    step = 1 << (fine.bits - fine.bits // 3)

    def C_tau(j, delta):
        c = (C0 if s == 0 else base.next_c[s - 1]).copy()
        c[0, j] += delta
        # h_s = o_s tanh(C_s) moves with C_s; h_0 is an input of its own
        h = H0 if s == 0 else fine.mul(base.block("gate", 2)[s - 1], ex.activations(fine, c, 0)[0])
        return ex.forward(fine, X[:, s:tau], h, WX, WH, B, c0=c).next_c[-1, 0]

    for j in range(3):
        column = [Fraction(int(u - d), 2 * step) for u, d in zip(C_tau(j, step), C_tau(j, -step))]
        assert exact_rel(column, fractions(fx, J[:, j])) < 1e-25


# -- the arithmetic ---------------------------------------------------------------------------

@pytest.mark.parametrize("prec", [120, 252, 700])
def test_exp_is_exact_to_a_few_dozen_units_of_the_last_bit(prec):
    """Well inside the 16 guard bits its callers keep."""
    rng = np.random.default_rng(prec)
    with mpmath.workprec(prec + 64):
        for y in [0.0, 1e-30, 0.69314718, 15.3, 37.0, *rng.uniform(0, 60, size=20)]:
            Y = int(mpmath.floor(mpmath.mpf(y) * 2 ** prec))
            want = mpmath.exp(-mpmath.mpf(Y) / 2 ** prec) * 2 ** prec
            assert abs(ex.exp_neg(Y, prec) - want) < 64, y


def test_activations_keep_every_digit_where_gates_saturate():
    """σ, σ' and tanh' at |a| up to 1000 to 40 significant digits: no 1 - σ anywhere."""
    fx = ex.Fixed.for_bound(2000.0)
    points = [-1000.0, -37.5, -15.0, 0.0, 2.5, 15.0, 400.0, 1000.0]
    value, slope = ex.activations(fx, ex.array(fx, [points]), len(points))
    tvalue, tslope = ex.activations(fx, ex.array(fx, [points]), 0)
    with mpmath.workdps(1000):
        for z, s, d, t, dt in zip(points, value[0], slope[0], tvalue[0], tslope[0]):
            z = mpmath.mpf(z)
            sig = 1 / (1 + mpmath.exp(-z))
            for got, want in ((s, sig), (d, sig * (1 - sig)), (t, mpmath.tanh(z)), (dt, mpmath.sech(z) ** 2)):
                assert abs(mpmath.mpf(got) / fx.one - want) <= 1e-40 * abs(want) + mpmath.mpf(2) ** (8 - fx.bits)


def test_a_rounding_that_the_precision_cannot_fix_is_refused_and_redone_finer():
    """A product of two derivatives at |a| = 60 (e^-120) is below what 100 bits
    resolve: ``floats`` refuses it, ``exactly`` recomputes until it certifies;
    a value certainly below half the smallest subnormal rounds to 0."""
    def compute(fx):
        _, slope = ex.activations(fx, ex.array(fx, [[60.0]]), 1)
        return ex.floats(fx, fx.mul(slope, slope), certify=True)

    with pytest.raises(ex.PrecisionError):
        compute(ex.Fixed(100))
    value = ex.exactly(compute, ex.Fixed(100))
    assert value[0, 0] == pytest.approx(float(mpmath.exp(-120)), rel=1e-15)
    tiny = ex.Fixed(1300)
    assert ex.floats(tiny, np.array([[3]], dtype=object), certify=True)[0, 0] == 0.0


def test_reordering_the_batch_reorders_the_results_bit_for_bit():
    """Sums are exact before their single rounding: dWx summed over the rows in
    another order is the same integer, not merely close."""
    k = leaves(13, 3, 3, 2, 2)
    fx, trace, grads = exact_run(k)
    order = [2, 0, 1]
    moved = {name: (v[order] if name in ("x", "h0", "c0", "dh", "dc") else v) for name, v in k.items()}
    _, trace2, grads2 = exact_run(moved, fx=fx)
    assert np.array_equal(trace2.h, trace.h[order])
    for a, b in ((grads2.dWx, grads.dWx), (grads2.dWh, grads.dWh), (grads2.db, grads.db)):
        assert np.array_equal(a, b)
