"""Seed 002's quantities, exactly: the vanilla RNN h_t = tanh(W h_{t-1} + U x_t + b),
the product of eq. (1), spectral norms, and the LSTM cell-path pieces of eqs. (3), (4).

Everything runs in mpmath at DPS digits from float64 leaves (or
from the very floats a student receives) and is rounded by the caller once,
with ``to_float``. Conventions are reference.numeric.rnn's: h (k, n) holds
h^{τ-k+1} .. h^τ row by row; W acts on column vectors.

    eq (1)  [∏_{i=1}^{k} Wᵀ diag(1 - (h^{τ-k+i})²)] g,  the i = 1 factor leftmost
    eq (2)  ‖W‖₂^k (max|tanh'|)^k = ‖W‖₂^k
    eq (3)  ∏_i diag(e^{τ-k+i}) diag(1 - tanh² s^τ) diag(o^τ) g   (c = 0)
    eq (4)  ‖J‖ ≤ ‖c‖₂ + sup|tanh|^k,  c = J - ∏ diag(e)

Matrices are lists of rows of mpf; vectors lists of mpf.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
from mpmath.libmp import from_man_exp, round_nearest

# 17 digits for float64 and 30 guard digits against cancellation in sums, with 3
# more for the rounding errors that accumulate over 1,000 steps. Nothing here
# saturates in a way that cancels: 1 - h² is formed from the float h exactly,
# and tanh and σ are mpmath's, good to the working precision relative.
DPS = 50
# Extra digits for the eigenvalue iteration behind a spectral norm: ‖W‖₂^1000
# multiplies the relative error of ‖W‖₂ by 1000.
NORM_DPS = DPS + 10
ONE = mpmath.mpf(1)


def dot(a, b):
    """Σ a_k b_k of mpf numbers: every product and the sum exact, rounded once
    to the working precision, so the order of the terms cannot matter."""
    acc, low = 0, None
    for x, y in zip(a, b):
        sx, mx, ex, _ = x._mpf_
        sy, my, ey, _ = y._mpf_
        if mx and my:
            e, m = ex + ey, (-mx * my if sx ^ sy else mx * my)
            if low is None:
                acc, low = m, e
            elif e >= low:
                acc += m << (e - low)
            else:
                acc, low = (acc << (low - e)) + m, e
    if low is None:
        return mpmath.mpf(0)
    return mpmath.mp.make_mpf(from_man_exp(acc, low, mpmath.mp.prec, round_nearest))


def sigmoid(z):
    """σ(z) = 1/(1 + e^{-z}) in mpmath (e^{-|z|} only, so nothing overflows)."""
    e = mpmath.exp(-abs(z))
    return 1 / (1 + e) if z >= 0 else e / (1 + e)


def exact(a) -> list:
    """Float64 leaves (any shape) as nested lists of mpf, without rounding."""
    return [exact(v) for v in a] if isinstance(a, (list, tuple, np.ndarray)) else mpmath.mpf(float(a))


def to_float(value):
    """Nested lists of mpf -> float64 array (a bare mpf -> float), each entry
    rounded once to nearest. float(mpf) rounds twice in the subnormal range
    (to 53 bits, then to the subnormal's fewer); int / int does not."""
    if isinstance(value, (list, tuple)):
        return np.array(_floats(value), dtype=np.float64)
    return _round(value)


def _floats(value):
    return [_floats(v) for v in value] if isinstance(value, (list, tuple)) else _round(value)


def _round(v) -> float:
    sign, man, exp, _ = mpmath.mpf(v)._mpf_
    if not man:
        if exp:                                  # mpmath's inf and nan have man = 0, exp != 0
            return float(mpmath.mpf(v))
        return -0.0 if sign else 0.0
    man = -man if sign else man
    if exp >= 0:
        try:
            return float(man << exp)
        except OverflowError:
            return math.copysign(math.inf, man)
    return man / (1 << -exp)


# -- linear algebra ----------------------------------------------------------------------

def transpose(A: list) -> list:
    return [list(col) for col in zip(*A)]


def matvec(A: list, v: list) -> list:
    return [dot(row, v) for row in A]


def matmul(A: list, B: list) -> list:
    cols = transpose(B)
    return [[dot(row, col) for col in cols] for row in A]


def frobenius_norm(A: list):
    with mpmath.workdps(DPS):
        return mpmath.sqrt(dot([v for row in A for v in row], [v for row in A for v in row]))


def vector_norm(v: list):
    with mpmath.workdps(DPS):
        return mpmath.sqrt(dot(v, v))


def spectral_norm(A: list):
    """‖A‖₂ = √λ_max(AᵀA), the eigenvalue by mpmath's Jacobi iteration at NORM_DPS."""
    with mpmath.workdps(NORM_DPS):
        gram = matmul(transpose(A), A)
        eigenvalues = mpmath.eigsy(mpmath.matrix(gram), eigvals_only=True)
        return mpmath.sqrt(max(max(eigenvalues), mpmath.mpf(0)))


def spectral_radius(A: list):
    with mpmath.workdps(NORM_DPS):
        return max(abs(v) for v in mpmath.eig(mpmath.matrix(A), left=False, right=False))


def orthogonal(A: list) -> list:
    """The orthogonal factor Q of A = QR with diag(R) > 0 (unique, so a normal A
    gives a Haar rotation or reflection), its first column negated if det Q < 0:
    a rotation, exact to DPS digits."""
    with mpmath.workdps(DPS):
        Q, R = mpmath.qr(mpmath.matrix(A))
        n = Q.rows
        signs = [1 if R[j, j] >= 0 else -1 for j in range(n)]
        rows = [[Q[r, c] * signs[c] for c in range(n)] for r in range(n)]
        if mpmath.det(mpmath.matrix(rows)) < 0:
            rows = [[-row[0], *row[1:]] for row in rows]
        return rows


# -- the vanilla RNN ---------------------------------------------------------------------------

def rnn_forward(W, U, b, x, h0) -> list:
    """h_1 .. h_T (T lists of mpf) from float64 leaves W (n, n), U (n, m), b (n,),
    x (T, m), h0 (n,). Pre-activations are summed exactly and tanh is mpmath's."""
    W, U, b, x, h = exact(W), exact(U), exact(b), exact(x), exact(h0)
    out = []
    with mpmath.workdps(DPS):
        for x_t in x:
            h = [mpmath.tanh(dot(w + u, h + x_t) + bias) for w, u, bias in zip(W, U, b)]
            out.append(h)
    return out


def tanh_factors(h) -> list:
    """1 - h² for each row of h, from the floats given (exact: 1 - h² of a float
    needs 106 bits)."""
    with mpmath.workdps(DPS):
        return [[(ONE - v) * (ONE + v) for v in row] for row in exact(h)]


def grad_k_steps_back(W, h, g, *, transpose_W: bool = True, tanh_factor: bool = True) -> list:
    """Eq. (1) at the floats W (n, n), h (k, n), g (n,): v = g, then for
    i = k .. 1, v = Wᵀ (d_i ⊙ v) with d_i = 1 - h_i². The switches give the
    classic mistakes: W in place of Wᵀ, and no diag(1 - h²) factors."""
    M = exact(W)
    M = transpose(M) if transpose_W else M
    factors = tanh_factors(h) if tanh_factor else [[ONE] * len(M)] * len(h)
    v = exact(g)
    with mpmath.workdps(DPS):
        for d in reversed(factors):
            v = matvec(M, [a * b for a, b in zip(d, v)])
    return v


def product_factors(W, h) -> list:
    """The factors F_i = Wᵀ diag(1 - h_i²) of eq. (1), exact."""
    WT = transpose(exact(W))
    with mpmath.workdps(DPS):
        return [[[w * di for w, di in zip(row, d)] for row in WT] for d in tanh_factors(h)]


def prefix_suffix_norms(factors: list) -> tuple[list, list]:
    """‖F_1 ⋯ F_{i-1}‖_F and ‖F_{i+1} ⋯ F_k‖_F for i = 1 .. k (empty products are I)."""
    n = len(factors[0])
    eye = [[ONE if r == c else mpmath.mpf(0) for c in range(n)] for r in range(n)]
    k = len(factors)
    prefix, suffix = [None] * k, [None] * k
    with mpmath.workdps(DPS):
        left = right = eye
        for i in range(k):
            prefix[i] = frobenius_norm(left)
            suffix[k - 1 - i] = frobenius_norm(right)
            left = matmul(left, factors[i])
            right = matmul(factors[k - 1 - i], right)
    return prefix, suffix


def norm_bound(W, k: int, norm=spectral_norm):
    """Eq. (2): ‖W‖₂^k (max_x |1 - tanh² x| = 1), at the floats W."""
    with mpmath.workdps(NORM_DPS):
        return norm(exact(W)) ** k


# -- the LSTM cell path ---------------------------------------------------------------------

def forget_product(e) -> list:
    """∏_i e^{τ-k+i} per unit from the floats e (k, n): the diagonal of the cell path."""
    rows = exact(e)
    with mpmath.workdps(DPS):
        return [mpmath.fprod(col) for col in zip(*rows)]


def cell_path_gradient(e, s_tau, o_tau, g, *, drop=frozenset()) -> list:
    """Eq. (3) with c = 0 at the floats given: ∏e ⊙ (1 - tanh² s) ⊙ o ⊙ g.
    ``drop`` leaves a factor out: "forget" (∏e), "tanh" (1 - tanh² s), "output" (o)."""
    unknown = set(drop) - {"forget", "tanh", "output"}
    if unknown:
        raise ValueError(f"unknown factors {sorted(unknown)}")
    path = forget_product(e) if "forget" not in drop else [ONE] * len(exact(g))
    with mpmath.workdps(DPS):
        out = []
        for p, s, o, gi in zip(path, exact(s_tau), exact(o_tau), exact(g)):
            slope = ONE if "tanh" in drop else mpmath.sech(s) ** 2
            out.append(p * slope * (ONE if "output" in drop else o) * gi)
    return out


def cell_bound(J, e, *, subtract: bool = True, norm=spectral_norm) -> tuple:
    """Eq. (4) at the floats J (n, n), e (k, n): (‖∏ diag(e)‖₂, ‖c‖₂, ‖c‖₂ + 1)
    with c = J - ∏ diag(e) (sup|tanh|^k = 1). ``subtract=False`` keeps J whole."""
    path = forget_product(e)
    J = exact(J)
    with mpmath.workdps(DPS):
        c = [[v - (path[r] if subtract and r == col else 0) for col, v in enumerate(row)] for r, row in enumerate(J)]
    c_norm = norm(c)
    return max(abs(p) for p in path), c_norm, c_norm + ONE


# -- finite differences ----------------------------------------------------------------------

def central_difference(loss, dps: int = 2 * DPS, agree: float = 1e-30, limit: int = 2000):
    """dL/dδ at δ = 0 of ``loss(delta)`` (an exact forward pass evaluated at the
    working precision, moved by the mpf ``delta``), by central differences with
    step 10^-(dps/3): truncation and rounding are both ~10^-(2 dps/3) times the
    size of the terms. Two precisions 40 digits apart must agree to ``agree``
    relative; otherwise (a derivative lost below the noise, which happens where
    it vanishes) the precision grows. Returns an mpf."""
    previous = None
    while dps <= limit:
        with mpmath.workdps(dps):
            step = mpmath.mpf(10) ** -(dps // 3)
            estimate = (loss(step) - loss(-step)) / (2 * step)
        if previous is not None and abs(estimate - previous) <= agree * abs(estimate):
            return estimate
        previous, dps = estimate, dps + 40
    raise ArithmeticError(f"finite differences did not settle below {limit} digits")


def rnn_state_difference(W, h, g) -> list:
    """∂(g · h^τ)/∂h^{τ-k} by central differences of the RNN forward alone, run from
    h^{τ-k} = 0 through the steps whose states h (k, n) are given: the input drive
    of each step, atanh(h_t) - W h_{t-1}, is recovered from the states, so the
    unmoved run reproduces them exactly."""
    W, rows, g = exact(W), exact(h), exact(g)
    n = len(g)

    def loss_along(j):
        def loss(delta):
            drives = [[mpmath.atanh(v) for v in row] for row in rows]
            state = [mpmath.mpf(0)] * n
            start = list(state)
            start[j] = delta
            prev = state
            for t, row in enumerate(rows):
                drives[t] = [d - dot(w, prev) for d, w in zip(drives[t], W)]
                prev = row
            state = start
            for u in drives:
                state = [mpmath.tanh(dot(w, state) + d) for w, d in zip(W, u)]
            return dot(g, state)
        return loss

    return [central_difference(loss_along(j)) for j in range(n)]
