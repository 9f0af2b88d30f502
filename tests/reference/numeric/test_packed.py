"""The packed (i, f, o, g; batch-first) layout: finite differences, an
autograd oracle, and agreement with the homework layout after repacking."""
from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from reference.numeric import lstm as hw
from reference.numeric.packed import (
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
    pack_params,
    unpack_params,
)

# (seed, N, T, D, H)
CASES = [(0, 2, 3, 4, 3), (1, 1, 5, 1, 1), (2, 3, 2, 3, 5)]
ids = [f"seed{s}-N{N}T{T}D{D}H{H}" for s, N, T, D, H in CASES]


def make_case(seed, N, T, D, H, scale=0.5):
    rng = np.random.default_rng(seed)
    return dict(x=rng.standard_normal((N, T, D)), h0=rng.standard_normal((N, H)),
                c0=rng.standard_normal((N, H)), Wx=scale * rng.standard_normal((D, 4 * H)),
                Wh=scale * rng.standard_normal((H, 4 * H)), b=scale * rng.standard_normal(4 * H),
                dh=rng.standard_normal((N, T, H)), dc=rng.standard_normal((N, H)))


def _sig(z):
    return 1.0 / (1.0 + anp.exp(-z))


def oracle_step(x, h, c, Wx, Wh, b):
    """Independent autograd.numpy step with gates split by explicit blocks."""
    H = h.shape[1]
    a = anp.dot(x, Wx) + anp.dot(h, Wh) + b
    gi, gf, go, gg = (a[:, k * H:(k + 1) * H] for k in range(4))
    c = _sig(gf) * c + _sig(gi) * anp.tanh(gg)
    return _sig(go) * anp.tanh(c), c


def oracle_sequence_loss(inp, dh):
    h, c = inp["h0"], anp.zeros(inp["h0"].shape)
    loss = 0.0
    for t in range(inp["x"].shape[1]):
        h, c = oracle_step(inp["x"][:, t], h, c, inp["Wx"], inp["Wh"], inp["b"])
        loss = loss + anp.sum(dh[:, t] * h)
    return loss


def oracle_step_loss(inp, dnext_h, dnext_c):
    h, c = oracle_step(inp["x"], inp["prev_h"], inp["prev_c"], inp["Wx"], inp["Wh"], inp["b"])
    return anp.sum(dnext_h * h) + anp.sum(dnext_c * c)


def step_inputs(k):
    return dict(x=k["x"][:, 0], prev_h=k["h0"], prev_c=k["c0"], Wx=k["Wx"], Wh=k["Wh"], b=k["b"])


STEP_NAMES = ("x", "prev_h", "prev_c", "Wx", "Wh", "b")
SEQ_NAMES = ("x", "h0", "Wx", "Wh", "b")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_step_backward_matches_finite_differences_and_autograd(case, tools):
    """lstm_step_backward vs central differences (< 1e-7) and autograd (< 1e-12)
    for L = <dnext_h, next_h> + <dnext_c, next_c>."""
    k = make_case(*case)
    inp = step_inputs(k)
    dnh, dnc = k["dh"][:, 0], k["dc"]
    _, _, cache = lstm_step_forward(**inp)
    ours = dict(zip(STEP_NAMES, lstm_step_backward(dnh, dnc, cache)))

    def loss(**a):
        h, c, _ = lstm_step_forward(**a)
        return float(np.sum(dnh * h) + np.sum(dnc * c))

    fd = tools.central_diff(loss, inp)
    ag = grad(oracle_step_loss)(inp, dnh, dnc)
    for name in STEP_NAMES:
        assert tools.rel_err(ours[name], fd[name]) < tools.FD_TOL, name
        assert tools.rel_err(ours[name], ag[name]) < tools.AD_TOL, name


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_sequence_backward_matches_finite_differences_and_autograd(case, tools):
    """lstm_backward over T steps vs central differences (< 1e-7) and autograd
    (< 1e-12) for L = sum_t <dh_t, h_t>."""
    k = make_case(*case)
    inp = {n: k[n] for n in SEQ_NAMES}
    h, cache = lstm_forward(**inp)
    assert h.shape == k["dh"].shape
    ours = dict(zip(SEQ_NAMES, lstm_backward(k["dh"], cache)))

    def loss(**a):
        return float(np.sum(k["dh"] * lstm_forward(**a)[0]))

    fd = tools.central_diff(loss, inp)
    ag = grad(oracle_sequence_loss)(inp, k["dh"])
    for name in SEQ_NAMES:
        assert tools.rel_err(ours[name], fd[name]) < tools.FD_TOL, name
        assert tools.rel_err(ours[name], ag[name]) < tools.AD_TOL, name


def repack_by_hand(P, order="ifoc"):
    """The repacking written out independently of pack_params."""
    Wx = np.concatenate([getattr(P, f"W_x{g}").T for g in order], axis=1)
    Wh = np.concatenate([getattr(P, f"W_h{g}").T for g in order], axis=1)
    b = np.concatenate([getattr(P, f"b_{g}") for g in order])
    return Wx, Wh, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_packed_equals_homework_layout_so_gate_order_is_i_f_o_g(seed):
    """Homework weights repacked as blocks [i | f | o | g] give the same hidden
    states (to 1e-14) and, after unpacking, the same gradients (to 1e-13) as
    the homework reference with C0 = 0 and the upstream gradient on h.
    Repacking in any other order changes h, so the test pins the order."""
    rng = np.random.default_rng(seed)
    N, T, D, H = 3, 4, 2, 3
    P = hw.LSTMParams.random(H, D, 1, rng, scale=0.8, forget_bias=0.3)
    x = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    dh = rng.standard_normal((N, T, H))

    Wx, Wh, b = repack_by_hand(P)
    h, cache = lstm_forward(x, h0, Wx, Wh, b)
    tr = hw.lstm_forward(P, x.transpose(1, 0, 2), h0, np.zeros((N, H)))
    np.testing.assert_allclose(h, tr.h.transpose(1, 0, 2), rtol=1e-14, atol=1e-15)
    for wrong in ("fioc", "iofc", "cfoi"):
        assert np.max(np.abs(lstm_forward(x, h0, *repack_by_hand(P, wrong))[0] - h)) > 1e-3

    dx, dh0, dWx, dWh, db = lstm_backward(dh, cache)
    g = hw.lstm_backward(P, tr, None, dh.transpose(1, 0, 2))
    np.testing.assert_allclose(dx, g.grad_x.transpose(1, 0, 2), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dh0, g.grad_h0, rtol=1e-13, atol=1e-15)
    for k, gate in enumerate("ifoc"):
        cols = slice(k * H, (k + 1) * H)
        np.testing.assert_allclose(dWx[:, cols].T, getattr(g.params, f"W_x{gate}"), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(dWh[:, cols].T, getattr(g.params, f"W_h{gate}"), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(db[cols], getattr(g.params, f"b_{gate}"), rtol=1e-13, atol=1e-15)


def test_pack_and_unpack_helpers_agree_with_the_hand_repacking():
    """pack_params is the hand repacking; unpack_params inverts it."""
    P = hw.LSTMParams.random(3, 2, 1, np.random.default_rng(5))
    packed = pack_params(P)
    for ours, hand in zip(packed, repack_by_hand(P)):
        assert np.array_equal(ours, hand)
    blocks = unpack_params(*packed)
    assert set(blocks) == set(hw.PARAM_NAMES[:12])
    for name, a in blocks.items():
        assert np.array_equal(a, getattr(P, name))


def test_saturated_regime_over_1000_steps_is_finite_and_silent(tools):
    """The packed layout with forget bias +15, input bias -15, weights 0.1,
    T = 1000: forward and backward finite under strict floating point, and
    equal to the homework reference."""
    rng = np.random.default_rng(7)
    P = hw.LSTMParams.random(4, 3, 1, rng, scale=0.1, forget_bias=15.0, input_bias=-15.0)
    x = rng.standard_normal((2, 1000, 3))
    dh = rng.standard_normal((2, 1000, 4))
    with tools.strict_fp():
        h, cache = lstm_forward(x, np.zeros((2, 4)), *pack_params(P))
        grads = lstm_backward(dh, cache)
    assert all(np.all(np.isfinite(a)) for a in (h, *grads))
    g = hw.lstm_backward(P, hw.lstm_forward(P, x.transpose(1, 0, 2)), None, dh.transpose(1, 0, 2))
    assert tools.rel_err(grads[0], g.grad_x.transpose(1, 0, 2)) < 1e-12
