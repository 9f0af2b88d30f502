"""Vanilla RNN BPTT and the seed-002 quantities: eq (1) against BPTT, the
Jacobian against finite differences, bounds (2) and (4) on 1,000 random
instances each, and the vanishing-gradient picture over 1,000 steps."""
from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, jacobian

from reference.numeric.lstm import LSTMParams, cell_path_factor, lstm_backward, lstm_forward
from reference.numeric.rnn import (
    SUP_ABS_TANH,
    lstm_cell_jacobian_bound,
    lstm_cell_path_gradient,
    rnn_backward,
    rnn_forward,
    rnn_grad_k_steps_back,
    rnn_norm_bound,
    rnn_norm_bound_data,
    rnn_state_jacobian,
)

NAMES = ("W", "U", "b", "x", "h0")


def make_case(seed, n, m, T, scale=0.7):
    rng = np.random.default_rng(seed)
    return dict(W=scale * rng.standard_normal((n, n)), U=rng.standard_normal((n, m)),
                b=0.3 * rng.standard_normal(n), x=rng.standard_normal((T, m)),
                h0=0.5 * rng.standard_normal(n)), rng


def oracle_hs(inp):
    """Independent autograd.numpy RNN: list of h_1..h_T."""
    h, hs = inp["h0"], []
    for t in range(inp["x"].shape[0]):
        h = anp.tanh(anp.dot(inp["W"], h) + anp.dot(inp["U"], inp["x"][t]) + inp["b"])
        hs.append(h)
    return hs


@pytest.mark.parametrize("seed,n,m,T", [(0, 3, 2, 5), (1, 1, 1, 7), (2, 5, 3, 4), (3, 4, 4, 6)])
def test_backward_matches_finite_differences_and_autograd(seed, n, m, T, tools):
    """rnn_backward (upstream on every h_t plus an extra grad on h_T) vs central
    differences (< 1e-7) and autograd (< 1e-12), including the per-step
    total dL/dh_t (via autograd of an additive perturbation of h_t)."""
    inp, rng = make_case(seed, n, m, T)
    gh, glast = rng.standard_normal((T, n)), rng.standard_normal(n)
    ref = rnn_backward(inp["W"], inp["U"], rnn_forward(**inp), gh, glast)
    ours = {"W": ref.W, "U": ref.U, "b": ref.b, "x": ref.x, "h0": ref.h0}

    def loss(**a):
        tr = rnn_forward(**a)
        return float(np.sum(gh * tr.h) + glast @ tr.h[-1])

    fd = tools.central_diff(loss, inp)

    def oracle_loss(a, hook):
        h, total = a["h0"], 0.0
        for t in range(T):
            h = anp.tanh(anp.dot(a["W"], h) + anp.dot(a["U"], a["x"][t]) + a["b"]) + hook[t]
            total = total + anp.sum(gh[t] * h)
        return total + anp.sum(glast * h)

    ag = grad(oracle_loss)(inp, np.zeros((T, n)))
    ag_h = grad(oracle_loss, 1)(inp, np.zeros((T, n)))
    for name in NAMES:
        assert tools.rel_err(ours[name], fd[name]) < tools.FD_TOL, name
        assert tools.rel_err(ours[name], ag[name]) < tools.AD_TOL, name
    assert tools.rel_err(ref.h, ag_h) < tools.AD_TOL
    np.testing.assert_allclose(rnn_forward(**inp).h, np.stack(oracle_hs(inp)), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_eq1_equals_bptt_gradient_k_steps_back(seed, tools):
    """Loss from h_tau only: eq (1) with the i = 1 factor leftmost equals the
    BPTT gradient on h_{tau-k} for every k = 0..tau (to 1e-12); the product
    in reversed order does not (the order matters)."""
    inp, rng = make_case(seed, 4, 2, 9, scale=1.2)
    tau = 7
    tr = rnn_forward(**inp)
    g_tau = rng.standard_normal(4)
    up = np.zeros((9, 4))
    up[tau - 1] = g_tau
    bptt = rnn_backward(inp["W"], inp["U"], tr, up)
    per_state = np.concatenate([bptt.h0[None], bptt.h])      # index t = h_t
    W, hs = inp["W"], tr.hs
    for k in range(tau + 1):
        eq1 = rnn_grad_k_steps_back(W, hs, g_tau, tau, k)
        assert tools.rel_err(eq1, per_state[tau - k]) < 1e-12, k
        J = rnn_state_jacobian(W, hs, tau, k)
        assert tools.rel_err(eq1, J.T @ g_tau) < 1e-12, k
    wrong = g_tau
    for i in range(1, 5):                                     # i = 1 factor applied first
        wrong = W.T @ ((1 - hs[tau - 4 + i] ** 2) * wrong)
    assert tools.rel_err(wrong, per_state[tau - 4]) > 1e-3


@pytest.mark.parametrize("seed,tau,k", [(0, 6, 3), (1, 5, 5), (2, 8, 1)])
def test_state_jacobian_matches_finite_differences_and_autograd(seed, tau, k, tools):
    """dh_tau/dh_{tau-k} equals central differences of a forward restarted at
    tau-k (< 1e-7) and autograd's jacobian (< 1e-12)."""
    inp, _ = make_case(seed, 3, 2, 8, scale=1.0)
    tr = rnn_forward(**inp)
    J = rnn_state_jacobian(inp["W"], tr.hs, tau, k)

    def restart(h):
        return oracle_hs({**inp, "x": inp["x"][tau - k:tau], "h0": h})[-1]

    start = tr.hs[tau - k]
    fd = np.empty((3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = tools.FD_EPS
        fd[:, j] = (restart(start + e) - restart(start - e)) / (2 * tools.FD_EPS)
    assert tools.rel_err(J, fd) < tools.FD_TOL
    assert tools.rel_err(J, jacobian(restart)(start)) < tools.AD_TOL


def test_norm_bound_is_spectral_not_frobenius():
    """rnn_norm_bound(W, k) = sigma_max(W)^k (the tanh' factor is 1), which is
    strictly below ||W||_F^k for a non-rank-one W; huge powers give inf, not an
    error."""
    W = np.diag([2.0, 1.0])
    assert rnn_norm_bound(W, 3) == pytest.approx(8.0, rel=1e-15)
    assert rnn_norm_bound(W, 0) == 1.0
    assert rnn_norm_bound(5 * W, 1000) == float("inf")
    assert rnn_norm_bound(np.zeros((2, 2)), 4) == 0.0


def test_bound_eq2_holds_on_1000_random_instances():
    """For 1,000 random (n in 1..6, k in 1..25, ||W|| scale 0.1..3, tau = k+2):
    ||eq (1)|| <= ||J||_2 ||g|| <= data bound * ||g|| <= ||W||_2^k ||g||."""
    rng = np.random.default_rng(12345)
    tightest = 0.0
    for _ in range(1000):
        n, m, k = int(rng.integers(1, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 26))
        scale = float(np.exp(rng.uniform(np.log(0.1), np.log(3.0))))
        W = scale * rng.standard_normal((n, n)) / np.sqrt(n)
        U, b = rng.standard_normal((n, m)), rng.standard_normal(n)
        T = k + 2
        tr = rnn_forward(W, U, b, rng.standard_normal((T, m)), rng.standard_normal(n))
        g = rng.standard_normal(n)
        v = np.linalg.norm(rnn_grad_k_steps_back(W, tr.hs, g, T, k))
        j = np.linalg.norm(rnn_state_jacobian(W, tr.hs, T, k), 2) * np.linalg.norm(g)
        d = rnn_norm_bound_data(W, tr.hs, T, k) * np.linalg.norm(g)
        full = rnn_norm_bound(W, k) * np.linalg.norm(g)
        slack = 1 + 1e-12
        assert v <= j * slack and j <= d * slack and d <= full * slack
        if full > 0:
            tightest = max(tightest, v / full)
    assert tightest <= 1.0


def test_eq3_cell_path_gradient_is_exact_without_hidden_recurrence():
    """With W_h* = 0 the only route from C_{tau-k} to h_tau is the cell path,
    so eq (3) must equal the BPTT gradient on C_{tau-k} for a loss on h_tau."""
    rng = np.random.default_rng(3)
    d = LSTMParams.random(4, 2, 1, rng, scale=1.0, forget_bias=2.0).to_dict()
    for g in "fioc":
        d[f"W_h{g}"] = np.zeros((4, 4))
    P = LSTMParams.from_dict(d)
    tr = lstm_forward(P, rng.standard_normal((10, 2)), rng.standard_normal(4), rng.standard_normal(4))
    tau, g_tau = 9, rng.standard_normal(4)
    up = np.zeros((10, 4))
    up[tau - 1] = g_tau
    grads = lstm_backward(P, tr, None, up)
    for k in range(1, tau + 1):
        eq3 = lstm_cell_path_gradient(tr.f[tau - k:tau], tr.C[tau - 1], tr.o[tau - 1], g_tau)
        bptt = grads.grad_C0 if k == tau else grads.grad_C[tau - k - 1]
        np.testing.assert_allclose(eq3, bptt, rtol=1e-13, atol=1e-300)


def test_bound_eq4_holds_on_1000_random_lstm_instances():
    """For 1,000 random LSTMs (n in 1..5, k in 1..15, weight scale 0.1..3,
    random forget bias): ||dC_tau/dC_{tau-k}||_2 <= ||c||_2 + ||diag(prod f)||_2
    <= ||c||_2 + sup|tanh|^k, the cell-path part is <= prod_j max(f_j) <= 1,
    and ||eq (3)|| <= prod_j max(f_j) ||g||."""
    rng = np.random.default_rng(54321)
    assert SUP_ABS_TANH == 1.0
    for _ in range(1000):
        n, k = int(rng.integers(1, 6)), int(rng.integers(1, 16))
        scale = float(np.exp(rng.uniform(np.log(0.1), np.log(3.0))))
        P = LSTMParams.random(n, 2, 1, rng, scale=scale, forget_bias=float(rng.uniform(-3, 5)))
        T = k + 1
        tr = lstm_forward(P, rng.standard_normal((T, 2)), rng.standard_normal(n), rng.standard_normal(n))
        bound = lstm_cell_jacobian_bound(P, tr, T, k)
        slack = 1 + 1e-12
        assert bound.jacobian_norm <= (bound.c_norm + bound.cell_path_norm) * slack
        assert bound.c_norm + bound.cell_path_norm <= bound.bound * slack
        max_product = np.prod(tr.f[T - k:T].max(axis=1))
        assert bound.cell_path_norm <= max_product * slack <= slack
        g = rng.standard_normal(n)
        eq3 = lstm_cell_path_gradient(tr.f[T - k:T], tr.C[T - 1], tr.o[T - 1], g)
        assert np.linalg.norm(eq3) <= max_product * np.linalg.norm(g) * slack
        np.testing.assert_allclose(np.prod(tr.f[T - k:T], axis=0), cell_path_factor(tr, T, k), rtol=1e-13)


def test_vanilla_rnn_gradient_vanishes_geometrically_over_1000_steps(tools):
    """||W||_2 = 0.9, T = 1000, loss on h_T: every ||grad h_{T-k}|| <= 0.9^k
    ||grad h_T||, the ratio is below 1e-10 by k = 200 (0.9^200 = 7.1e-10;
    measured 2.2e-49, as tanh' < 1 and the spectral radius is 0.6), eq (1) at
    k = 200 still matches BPTT, and nothing warns."""
    rng = np.random.default_rng(99)
    n = 4
    W = rng.standard_normal((n, n))
    W *= 0.9 / np.linalg.norm(W, 2)
    U, b = 0.1 * rng.standard_normal((n, 3)), 0.1 * rng.standard_normal(n)
    g = rng.standard_normal(n)
    with tools.strict_fp():
        tr = rnn_forward(W, U, b, rng.standard_normal((1000, 3)))
        bptt = rnn_backward(W, U, tr, grad_h_last=g)
    G = np.concatenate([bptt.h0[None], bptt.h])[::-1]            # row k = grad h_{T-k}
    # Rescale before squaring: the gradients reach ~1e-240 and a plain
    # np.linalg.norm would underflow their squares to 0.
    top = np.abs(G).max(axis=1, keepdims=True)
    norms = top[:, 0] * np.linalg.norm(G / top, axis=1)
    ratio = norms / norms[0]
    assert np.all(np.isfinite(norms)) and norms[0] == pytest.approx(np.linalg.norm(g))
    assert np.all(ratio <= 0.9 ** np.arange(1001) * (1 + 1e-12))
    assert 0 < ratio[200] < 1e-10
    assert np.all(ratio > 0)                   # tiny, but nothing underflowed to 0
    assert tools.rel_err(rnn_grad_k_steps_back(W, tr.hs, g, 1000, 200), bptt.h[799]) < 1e-12
    assert rnn_norm_bound(W, 200) == pytest.approx(0.9 ** 200, rel=1e-12)
