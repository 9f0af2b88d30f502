"""reference.exact.rnn: the vanilla RNN, eq. (1)'s product, spectral norms, random
rotations and the LSTM cell-path pieces, exactly: against the NumPy references
(to 1e-12) and against central differences of the exact forward pass (to 1e-25),
at ordinary and saturated points and over a vanishing product."""
from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from reference.exact import packed as lstm_exact
from reference.exact import rnn as ex
from reference.numeric import lstm as hw
from reference.numeric import packed as nu_packed
from reference.numeric import rnn as nu


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def mp_rel(got: list, want: list):
    with mpmath.workdps(120):
        return mpmath.sqrt(mpmath.fsum((g - w) ** 2 for g, w in zip(got, want)) / mpmath.fsum(w * w for w in want))


def rnn_problem(seed: int, regime: str, n: int = 4, T: int = 6):
    rng = np.random.default_rng(seed)
    if regime == "saturated":
        W, U = 2.5 * rng.normal(size=(n, n)), rng.normal(size=(n, n))
        b = rng.choice([-1.0, 1.0], size=n) * rng.uniform(3.0, 6.0, size=n)
    elif regime == "vanishing":
        W = 0.9 * ex.to_float(ex.orthogonal(rng.normal(size=(n, n)).tolist()))
        U, b = 0.1 * rng.normal(size=(n, n)), 0.1 * rng.normal(size=n)
    else:
        W, U, b = rng.normal(size=(n, n)) / 2, 0.3 * rng.normal(size=(n, n)), 0.2 * rng.normal(size=n)
    x, h0, g = rng.normal(size=(T, n)), 0.5 * rng.normal(size=n), rng.normal(size=n)
    return W, U, b, x, h0, g


# -- the RNN and eq. (1) -----------------------------------------------------------------

@pytest.mark.parametrize("regime", ["ordinary", "saturated", "vanishing"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_forward_pass_and_eq1_agree_with_numpy(seed, regime):
    """h_1..h_T and the product of eq. (1) at the rounded states, to 1e-12; the
    switches give W in place of Wᵀ and the product without diag(1 - h²)."""
    W, U, b, x, h0, g = rnn_problem(seed, regime, T=40 if regime == "vanishing" else 6)
    h = ex.to_float(ex.rnn_forward(W, U, b, x, h0))
    assert rel(h, nu.rnn_forward(W, U, b, x, h0).h) < 1e-12
    k, n = h.shape
    hs = np.vstack([np.zeros(n), h])
    assert rel(ex.to_float(ex.grad_k_steps_back(W, h, g)), nu.rnn_grad_k_steps_back(W, hs, g, k, k)) < 1e-12
    assert rel(ex.to_float(ex.grad_k_steps_back(W, h, g, transpose_W=False)),
               nu.rnn_grad_k_steps_back(W.T, hs, g, k, k)) < 1e-12
    assert rel(ex.to_float(ex.grad_k_steps_back(W, h, g, tanh_factor=False)),
               np.linalg.matrix_power(W.T, k) @ g) < 1e-12


@pytest.mark.parametrize("regime,seed", [("ordinary", 3), ("ordinary", 4), ("saturated", 5), ("vanishing", 6)])
def test_eq1_agrees_with_exact_finite_differences_of_the_forward_pass(regime, seed):
    """∂(g · h^τ)/∂h^{τ-k} by central differences of the exact RNN, to 1e-25, also
    over 60 steps where the product has shrunk below 1e-3 of g."""
    W, U, b, x, h0, g = rnn_problem(seed, regime, T=60 if regime == "vanishing" else 6)
    h = ex.to_float(ex.rnn_forward(W, U, b, x, h0))
    assert np.all(np.abs(h) < 1)
    want = ex.grad_k_steps_back(W, h, g)
    assert mp_rel(ex.rnn_state_difference(W, h, g), want) < 1e-25
    if regime == "vanishing":
        assert ex.vector_norm(want) < 1e-3 * ex.vector_norm(ex.exact(g))


# -- norms and rotations --------------------------------------------------------------------

def test_the_spectral_norm_of_a_matrix_computed_by_hand():
    """[[0, 2], [1, 0]] has singular values 2 and 1 and eigenvalues ±√2."""
    W = [[0.0, 2.0], [1.0, 0.0]]
    assert ex.spectral_norm(ex.exact(W)) == 2
    assert ex.norm_bound(W, 3) == 8
    radius, frobenius = ex.spectral_radius(ex.exact(W)), ex.frobenius_norm(ex.exact(W))
    with mpmath.workdps(100):
        assert abs(radius - mpmath.sqrt(2)) < mpmath.mpf(10) ** -50
        assert abs(frobenius - mpmath.sqrt(5)) < mpmath.mpf(10) ** -45


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_spectral_norms_and_eq2_agree_with_numpy(seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(4, 4))
    assert abs(float(ex.spectral_norm(ex.exact(W))) / np.linalg.svd(W, compute_uv=False)[0] - 1) < 1e-12
    assert abs(float(ex.norm_bound(W, 7)) / nu.rnn_norm_bound(W, 7) - 1) < 1e-12
    assert abs(float(ex.spectral_radius(ex.exact(W))) / np.max(np.abs(np.linalg.eigvals(W))) - 1) < 1e-12


@pytest.mark.parametrize("n", [2, 3, 5])
def test_a_random_rotation_is_orthogonal_with_det_one_and_the_qr_sign_convention(n):
    """QᵀQ = I to 1e-45, det Q = +1, and QᵀA is upper triangular with a positive
    diagonal (up to the first column's sign, flipped to make det +1)."""
    A = np.random.default_rng(n).normal(size=(n, n))
    Q = ex.orthogonal(A.tolist())
    with mpmath.workdps(ex.DPS):
        QtQ = ex.matmul(ex.transpose(Q), Q)
        assert max(abs(QtQ[r][c] - (r == c)) for r in range(n) for c in range(n)) < mpmath.mpf(10) ** -45
        assert abs(mpmath.det(mpmath.matrix(Q)) - 1) < mpmath.mpf(10) ** -45
        R = ex.matmul(ex.transpose(Q), ex.exact(A))
        assert all(abs(R[r][c]) < mpmath.mpf(10) ** -40 for r in range(n) for c in range(r))
        assert all(R[j][j] > 0 for j in range(1, n))
    assert Q == ex.orthogonal(A.tolist())      # the same numbers, every time


# -- the LSTM cell path ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_eq3_and_eq4_agree_with_numpy(seed):
    """The cell-path gradient and the split of the Jacobian at the floats a
    student receives equal the NumPy references' (to 1e-12), with J and the
    forget gates taken from the NumPy forward pass."""
    rng = np.random.default_rng(seed)
    P = hw.LSTMParams.random(3, 2, 1, rng, scale=0.9)
    trace = hw.lstm_forward(P, rng.normal(size=(7, 2)), rng.normal(size=3), rng.normal(size=3))
    e, s, o, g = trace.f[2:7], trace.C[-1], trace.o[-1], rng.normal(size=3)
    assert rel(ex.to_float(ex.cell_path_gradient(e, s, o, g)), nu.lstm_cell_path_gradient(e, s, o, g)) < 1e-12
    assert rel(ex.to_float(ex.cell_path_gradient(e, s, o, g, drop={"output"})),
               nu.lstm_cell_path_gradient(e, s, np.ones(3), g)) < 1e-12
    J = hw.cell_jacobian(P, trace, 7, 5)
    path_norm, c_norm, bound = (float(v) for v in ex.cell_bound(J, trace.f[2:7]))
    ref = nu.lstm_cell_jacobian_bound(P, trace, 7, 5)
    assert abs(path_norm / ref.cell_path_norm - 1) < 1e-12
    assert abs(c_norm / ref.c_norm - 1) < 1e-12 and abs(bound / ref.bound - 1) < 1e-12
    assert abs(float(ex.cell_bound(J, trace.f[2:7], subtract=False)[1]) / ref.jacobian_norm - 1) < 1e-12


def test_the_packed_engine_gives_the_homework_lstm_gates():
    """bptt draws its LSTM cases in the packed layout; its forget gates and cell
    states are the homework reference's for the same weights."""
    rng = np.random.default_rng(4)
    P = hw.LSTMParams.random(3, 2, 1, rng, scale=0.8)
    x, h0, c0 = rng.normal(size=(5, 2)), rng.normal(size=3), rng.normal(size=3)
    Wx, Wh, b = nu_packed.pack_params(P)
    fx = lstm_exact.precision(x=x, h=h0, c=c0, Wx=Wx, Wh=Wh, b=b)
    trace = lstm_exact.forward(fx, *(lstm_exact.array(fx, v) for v in (x[None], h0[None], Wx, Wh, b)),
                               c0=lstm_exact.array(fx, c0[None]))
    ref = hw.lstm_forward(P, x, h0, c0)
    assert rel(lstm_exact.floats(fx, trace.block("gate", 1)[:, 0]), ref.f) < 1e-12
    assert rel(lstm_exact.floats(fx, trace.next_c[:, 0]), ref.C) < 1e-12


# -- rounding and sums ---------------------------------------------------------------------------

def test_to_float_rounds_once_also_below_the_normal_range():
    """float(mpf) rounds twice for subnormal results (to 53 bits, then to fewer);
    to_float matches the correctly rounded value of the exact fraction."""
    rng = np.random.default_rng(0)
    with mpmath.workprec(200):
        for _ in range(300):
            man = int(rng.integers(1, 2 ** 62)) * 2 ** 60 + int(rng.integers(0, 2 ** 60))
            exp = int(rng.integers(-1200, -1000))
            v = mpmath.mpf((man, exp))
            assert ex.to_float(v) == float(Fraction(man, 2 ** -exp))
    assert ex.to_float(mpmath.mpf(10) ** 400) == math.inf


def test_a_dot_product_does_not_depend_on_the_order_of_its_terms():
    rng = np.random.default_rng(1)
    a, b = ex.exact(rng.normal(size=50) * 10.0 ** rng.integers(-30, 30, size=50)), ex.exact(rng.normal(size=50))
    with mpmath.workdps(20):
        assert ex.dot(a, b) == ex.dot(a[::-1], b[::-1]) == ex.dot(a[1::2] + a[::2], b[1::2] + b[::2])
