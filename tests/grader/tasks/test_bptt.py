"""The bptt_products tasks: their cases against the NumPy references and the exact
finite differences, a correct float64 answer passing in every regime whatever
order it multiplies in, the classic mistakes (reversed product, W for Wᵀ,
Frobenius norm, no diag(o^τ), ∂C_t/∂C_{t-1} = f_t) and answers that are no
work at all failing, and the same bits on another CPU's code paths."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import load_assignment
from grader.grading import grade
from grader.tasks import TASKS
from grader.tasks.base import TaskCase

from .plan import assignment_plan
from grader.tasks.bptt import LSTMCellBound, OneStepCellJacobian, RNNGradientKStepsBack, RNNNormBound
from reference.numeric.lstm import LSTMParams, cell_jacobian, lstm_forward
from reference.numeric.rnn import (
    lstm_cell_path_gradient,
    rnn_backward,
    rnn_forward,
    rnn_grad_k_steps_back,
    rnn_norm_bound,
)

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "assignments" / "bptt_products"
EPS = float(np.finfo(np.float64).eps)
RTOL, KAPPA = 1e-9, 256.0          # the numeric and stability checks' tolerance
NAMES = ("bptt_rnn_gradient", "bptt_rnn_bound", "bptt_lstm_cell_path", "bptt_lstm_cell_bound",
         "bptt_one_step_jacobian")
TASK_REGIMES = [(name, r) for name in NAMES for r in TASKS[name].regimes]


# -- the cases the pack uses, and more ---------------------------------------------------------

PLAN = [p[1:] for p in assignment_plan(PACK)]
GRADCHECK = [p[1:] for p in assignment_plan(PACK) if p[0] == "gradcheck"]
_DRAWN: dict = {}


def cases(name: str, regime: str, seed: int, count: int) -> tuple[TaskCase, ...]:
    """The first ``count`` cases of a generator seeded with ``seed``, as the grader
    draws them; drawn once per test session."""
    rng, made = _DRAWN.setdefault((name, regime, seed), (np.random.default_rng(seed), []))
    while len(made) < count:
        made.append(TASKS[name]().case(rng, regime))
    return tuple(made[:count])


@lru_cache(maxsize=None)
def finite_difference(name: str, seed: int, index: int):
    return TASKS[name].finite_difference(cases(name, "ordinary", seed, index + 1)[index].args)


def all_cases(name: str, regime: str) -> list[TaskCase]:
    """The pack's cases of this task and regime, and many more of the short regimes."""
    out = [c for t, r, s, n in PLAN if (t, r) == (name, regime) for c in cases(t, r, s, n)]
    if regime != "stability":
        out.extend(cases(name, regime, 7, 20))
    return out


def first_case(name: str, regime: str) -> tuple[str, str, int, int]:
    return next(((t, r, s, 1) for t, r, s, _ in PLAN if (t, r) == (name, regime)), (name, regime, 7, 1))


# -- the comparison bound, as grader/compare.py states it ------------------------------------

def norm(a) -> float:
    flat = [abs(float(v)) for v in np.asarray(a, dtype=float).ravel()]
    scale = max(flat, default=0.0)
    return scale * math.sqrt(math.fsum((v / scale) ** 2 for v in flat)) if 0 < scale < math.inf else scale


def passes(got, expected, magnitude) -> bool:
    """‖got - e‖ ≤ rtol‖e‖ + κε‖magnitude‖ for every output (a tuple must match
    in length, an array in shape; NaN never passes)."""
    if isinstance(expected, tuple):
        return (isinstance(got, tuple) and len(got) == len(expected)
                and all(passes(g, e, m) for g, e, m in zip(got, expected, magnitude)))
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return False
    if got.shape != np.shape(expected) or not np.all(np.isfinite(got)):
        return False
    return norm(got - expected) <= RTOL * norm(expected) + KAPPA * EPS * norm(magnitude)


def failures(fn, batch) -> int:
    """How many cases ``fn`` fails as the grader would judge it: a wrong value, or a
    floating-point warning (which the sandbox turns into a failure)."""
    bad = 0
    for c in batch:
        try:
            with np.errstate(all="raise", under="ignore"):
                bad += not passes(fn(*c.args), c.expected, c.magnitude)
        except FloatingPointError:
            bad += 1
    return bad


def like(expected, value):
    if isinstance(expected, tuple):
        return tuple(like(e, value) for e in expected)
    return np.full(np.shape(expected), value)


# -- answers, right and wrong ---------------------------------------------------

def rnn_vector(W, h, g):
    v = np.array(g, dtype=float)
    for row in h[::-1]:
        v = W.T @ ((1 - row ** 2) * v)
    return v


def rnn_matrices_left_to_right(W, h, g):
    product = np.eye(len(g))
    for row in h:
        product = product @ W.T @ np.diag((1 - row) * (1 + row))
    return product @ g


def rnn_matrices_right_to_left(W, h, g):
    product = np.eye(len(g))
    for row in h[::-1]:
        product = W.T @ np.diag(1 - row ** 2) @ product
    return product @ g


def rnn_reversed(W, h, g):
    return rnn_vector(W, h[::-1], g)


def rnn_untransposed(W, h, g):
    return rnn_vector(W.T, h, g)


def bound_spectral(W, k):
    return float(np.linalg.norm(W, 2) ** k)


def bound_eigen(W, k):
    return float(np.sqrt(np.max(np.linalg.eigvalsh(W.T @ W))) ** k)


def bound_frobenius(W, k):
    return float(np.linalg.norm(W) ** k)


def bound_spectral_radius(W, k):
    return float(np.max(np.abs(np.linalg.eigvals(W))) ** k)


def path_gradient(e, s, o, g):
    return np.prod(e, axis=0) * (1 - np.tanh(s) ** 2) * o * g


def path_gradient_log_space(e, s, o, g):
    return np.exp(np.sum(np.log(e), axis=0)) * (1 - np.tanh(s)) * (1 + np.tanh(s)) * o * g


def path_gradient_without_o(e, s, o, g):
    return np.prod(e, axis=0) * (1 - np.tanh(s) ** 2) * g


def path_gradient_last_gate_only(e, s, o, g):
    return e[-1] * (1 - np.tanh(s) ** 2) * o * g


def cell_bound(J, e, norm=lambda m: np.linalg.norm(m, 2), subtract=True):
    path = np.prod(e, axis=0)
    c_norm = float(norm(J - np.diag(path) if subtract else J))
    return float(np.max(path)), c_norm, c_norm + 1.0


def one_step(C, o, f, i, Ct, w_f, w_i, w_c):
    dh = o * (1 - np.tanh(C) ** 2)
    return f + (C * f * (1 - f) * w_f + Ct * i * (1 - i) * w_i + i * (1 - Ct ** 2) * w_c) * dh


def one_step_forget_only(C, o, f, i, Ct, w_f, w_i, w_c):
    return f


def one_step_without_o(C, o, f, i, Ct, w_f, w_i, w_c):
    return one_step(C, 1.0, f, i, Ct, w_f, w_i, w_c)


ORACLES = {  # NumPy's own float64 answer at the student's arguments
    "bptt_rnn_gradient": lambda W, h, g: rnn_grad_k_steps_back(W, np.vstack([np.zeros(len(g)), h]), g, len(h), len(h)),
    "bptt_rnn_bound": rnn_norm_bound,
    "bptt_lstm_cell_path": lstm_cell_path_gradient,
    "bptt_lstm_cell_bound": cell_bound,
    "bptt_one_step_jacobian": one_step,
}


COSTS = {  # steps a student's function works through
    "bptt_rnn_gradient": lambda W, h, g: len(h),
    "bptt_rnn_bound": lambda W, k: 1,
    "bptt_lstm_cell_path": lambda e, s, o, g: len(e),
    "bptt_lstm_cell_bound": lambda J, e: len(e),
    "bptt_one_step_jacobian": lambda *args: 1,
}


# -- the references by hand --------------------------------------------------------

def test_eq1_order_on_a_2x2_example_computed_by_hand():
    """With W = [[1, 2], [0, 1]], h^{τ-1} = (0.5, 0), h^τ = (0, 0.5) and ∇h^τ = (1, 1),
    eq. (1) gives (0.75, 4.25); the reversed product and W for Wᵀ give (0.75, 3.375)
    and (3.375, 0.75): the order and the transpose both change the answer."""
    W = np.array([[1.0, 2.0], [0.0, 1.0]])
    h = np.array([[0.5, 0.0], [0.0, 0.5]])
    g = np.ones(2)
    np.testing.assert_allclose(rnn_grad_k_steps_back(W, np.vstack([np.zeros(2), h]), g, 2, 2), [0.75, 4.25])
    np.testing.assert_allclose(rnn_reversed(W, h, g), [0.75, 3.375])
    np.testing.assert_allclose(rnn_untransposed(W, h, g), [3.375, 0.75])


def test_eq2_bound_is_the_spectral_norm_to_the_k():
    """For W = [[0, 2], [1, 0]] the singular values are 2 and 1, so bound (2) with
    k = 3 is 8, where the Frobenius norm gives √5³ ≈ 11.18 and the spectral radius √2³ ≈ 2.83."""
    W = np.array([[0.0, 2.0], [1.0, 0.0]])
    assert rnn_norm_bound(W, 3) == pytest.approx(8.0, rel=1e-14)
    assert bound_frobenius(W, 3) == pytest.approx(5 ** 1.5)
    assert bound_spectral_radius(W, 3) == pytest.approx(2 ** 1.5)


def test_one_step_jacobian_at_a_point_computed_by_hand():
    """At C_{t-1} = 0, o_{t-1} = f = i = 0.5, C̃ = 0 and unit weights only the candidate
    path survives next to f: 0.5 + 0.5·(1 - 0)·1·0.5 = 0.75 exactly."""
    assert OneStepCellJacobian.reference((0.0, 0.5, 0.5, 0.5, 0.0, 1.0, 1.0, 1.0)) == (0.75, 0.75)


def test_eq1_reference_equals_bptt_from_the_last_state():
    """Eq. (1) over a whole 6-step sequence is the ∇h^0 of full BPTT with the loss on h^T only."""
    rng = np.random.default_rng(3)
    W, U, b = rng.normal(size=(4, 4)) / 2, rng.normal(size=(4, 2)), rng.normal(size=4)
    trace = rnn_forward(W, U, b, rng.normal(size=(6, 2)), rng.normal(size=4))
    g = rng.normal(size=4)
    bptt = rnn_backward(W, U, trace, grad_h_last=g)
    np.testing.assert_allclose(rnn_grad_k_steps_back(W, trace.hs, g, 6, 6), bptt.h0, rtol=1e-12)


@pytest.mark.parametrize("shift", [0.0, 10.0, 15.0])
def test_one_step_reference_equals_numpy_cell_jacobian(shift):
    """Seed 001's four terms, evaluated exactly, equal the NumPy reference's total
    ∂C_τ/∂C_{τ-1} of a one-unit LSTM (n = 1), also with forget gates near 1."""
    rng = np.random.default_rng(int(shift))
    for _ in range(20):
        params = LSTMParams.random(1, 1, 1, rng, scale=1.0, forget_bias=shift, input_bias=-shift)
        trace = lstm_forward(params, rng.normal(size=(3, 1)), rng.normal(size=1), rng.normal(size=1))
        tau = 3
        args = (trace.C[tau - 2, 0], trace.o[tau - 2, 0], trace.f[tau - 1, 0], trace.i[tau - 1, 0],
                trace.Ct[tau - 1, 0], params.W_hf[0, 0], params.W_hi[0, 0], params.W_hc[0, 0])
        value, magnitude = OneStepCellJacobian.reference(tuple(map(float, args)))
        assert abs(value - cell_jacobian(params, trace, tau, 1)[0, 0]) <= 1e-13 * magnitude


# -- the tasks -------------------------------------------------------------------------

def test_the_tasks_are_registered_and_follow_the_task_protocol():
    assignment = load_assignment(PACK)
    assert {q.id: q.task for q in assignment.questions if q.kind == "task"} == dict(zip(("q1", "q2", "q3", "q4", "q5"),
                                                                                       NAMES))
    for name in NAMES:
        cls = TASKS[name]
        assert set(cls.regimes) <= {"ordinary", "saturated", "stability"} and callable(cls().case)
        assert hasattr(cls, "finite_difference") == cls.supports_gradcheck
        assert isinstance(cls.phrases, dict)
    assert RNNGradientKStepsBack.phrases["stability"].startswith("over k = 1000")


@pytest.mark.parametrize("name,regime", TASK_REGIMES)
def test_every_case_is_the_numpy_reference_within_the_bound(name, regime):
    """NumPy's own float64 answer at the student's arguments passes the grader's
    bound against the exact expected value; at ordinary inputs the two agree to
    1e-11 outright. Costs are the work a student's function does."""
    for c in all_cases(name, regime):
        reference = ORACLES[name](*c.args)
        assert passes(reference, c.expected, c.magnitude), c.label
        if regime == "ordinary":
            outputs = (reference, c.expected) if isinstance(c.expected, tuple) else ((reference,), (c.expected,))
            for r, e in zip(*outputs):
                assert norm(np.asarray(r) - e) <= 1e-11 * norm(e), c.label
        assert c.cost == COSTS[name](*c.args)


@pytest.mark.parametrize("name,regime", TASK_REGIMES)
def test_answers_that_are_no_work_and_answers_with_a_path_dropped_fail(name, regime):
    """0, 1 and NaN of the expected structure, each argument returned as it came,
    and each listed answer with one path dropped all fail the bound, in every
    case of every regime."""
    for c in all_cases(name, regime):
        for answer in (like(c.expected, 0.0), like(c.expected, 1.0), like(c.expected, np.nan), *c.args):
            assert not passes(answer, c.expected, c.magnitude), c.label
        for what, answer in c.dropped:
            assert not passes(answer, c.expected, c.magnitude), (c.label, what)


@pytest.mark.parametrize("name,count", [("bptt_rnn_gradient", 3), ("bptt_rnn_bound", 0), ("bptt_lstm_cell_path", 3),
                                        ("bptt_lstm_cell_bound", 3), ("bptt_one_step_jacobian", 3)])
def test_at_ordinary_inputs_every_dropped_path_is_listed(name, count):
    """(The last-gate-only cell path is the answer itself when k = 1.)"""
    for c in all_cases(name, "ordinary"):
        expected = count - (name == "bptt_lstm_cell_bound" and len(c.args[1]) == 1)
        assert len(c.dropped) == expected, c.label


@pytest.mark.parametrize("name", ["bptt_rnn_gradient", "bptt_one_step_jacobian"])
def test_finite_differences_are_the_expected_values_at_every_gradcheck_case(name):
    """The gradcheck oracle (central differences of the exact forward pass alone)
    equals the exact expected value within 1e-20·(|e| + ‖magnitude‖)."""
    plan = [p for p in GRADCHECK if p[0] == name]
    assert plan
    for t, r, s, n in plan + [(name, "ordinary", 7, 3)]:
        for index, c in enumerate(cases(t, r, s, n)):
            fd = finite_difference(name, s, index)
            assert np.shape(fd) == np.shape(c.expected)
            assert np.all(np.abs(fd - c.expected) <= 1e-20 * (np.abs(c.expected) + norm(c.magnitude))), c.label


# -- correct answers pass, mistakes fail -------------------------------------------------

@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_rnn_gradient_correct_in_any_order_passes_and_both_classic_mistakes_fail(regime):
    """Vector from the right and matrices from either side pass, with (1 - h)(1 + h)
    too; the reversed product and W in place of Wᵀ fail every case, including the
    1,000-step ones where the gradient has vanished below 1e-40."""
    batch = all_cases("bptt_rnn_gradient", regime)
    for correct in (rnn_vector, rnn_matrices_left_to_right, rnn_matrices_right_to_left):
        assert failures(correct, batch) == 0
    assert failures(rnn_reversed, batch) == len(batch)
    assert failures(rnn_untransposed, batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "stability"])
def test_rnn_bound_spectral_passes_and_frobenius_or_spectral_radius_fail(regime):
    """‖W‖₂^k passes, also through the eigenvalues of WᵀW; the Frobenius norm and the
    spectral radius fail every case, for k up to 1,000 on both sides of ‖W‖₂ = 1."""
    batch = all_cases("bptt_rnn_bound", regime) + (list(cases("bptt_rnn_bound", "stability", 7, 12))
                                                    if regime == "stability" else [])
    if regime == "stability":
        norms = [np.linalg.norm(c.args[0], 2) for c in batch]
        assert min(norms) < 1 < max(norms)
    for c in batch:
        assert c.expected == pytest.approx(np.linalg.svd(c.args[0], compute_uv=False)[0] ** c.args[1], rel=1e-11)
    assert failures(bound_spectral, batch) == 0
    assert failures(bound_eigen, batch) == 0
    assert failures(bound_frobenius, batch) == len(batch)
    assert failures(bound_spectral_radius, batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_lstm_path_correct_passes_and_dropping_o_fails(regime):
    """∏e·(1 - tanh²s)·o·∇h passes (also summed in log space); without diag(o^τ) it
    fails every ordinary and stability case."""
    batch = all_cases("bptt_lstm_cell_path", regime)
    assert failures(path_gradient, batch) == 0
    assert failures(path_gradient_log_space, batch) == 0
    wrong = failures(path_gradient_without_o, batch)
    assert wrong == len(batch) if regime != "saturated" else wrong >= len(batch) // 2


def test_lstm_path_last_gate_only_fails_whenever_k_exceeds_one():
    batch = [c for c in all_cases("bptt_lstm_cell_path", "ordinary") if len(c.args[0]) > 1]
    assert len(batch) >= 15
    assert failures(path_gradient_last_gate_only, batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_lstm_bound_spectral_split_passes_and_frobenius_or_no_split_fail(regime):
    """The split J - ∏diag(e) with spectral norms passes; the Frobenius norm and ‖J‖
    without subtracting the cell path fail every ordinary and 1,000-step case.
    path_norm is the largest ∏e, bound = c_norm + 1, and ‖J‖ ≤ bound as (4) says."""
    batch = all_cases("bptt_lstm_cell_bound", regime)
    for c in batch:
        J, e = c.args
        path_norm, c_norm, bound = c.expected
        assert path_norm == pytest.approx(np.max(np.prod(e, axis=0)), rel=1e-12)
        assert bound == pytest.approx(c_norm + 1.0, rel=1e-15) and np.linalg.norm(J, 2) <= bound
        assert LSTMCellBound.reference(J, e) == c.expected
    assert failures(cell_bound, batch) == 0
    if regime != "saturated":  # saturated gates leave c nearly rank one: Frobenius ≈ spectral
        assert failures(lambda J, e: cell_bound(J, e, norm=np.linalg.norm), batch) == len(batch)
        assert failures(lambda J, e: cell_bound(J, e, subtract=False), batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_one_step_four_terms_pass_and_forget_gate_only_fails(regime):
    """All four terms pass; f_t alone (the common misconception) and dropping o_{t-1}
    fail every ordinary case and every case with f ≈ 1, i ≈ 0, where the three gate
    terms are ~3e-7 of the answer."""
    batch = all_cases("bptt_one_step_jacobian", regime)
    assert failures(one_step, batch) == 0
    if regime != "saturated":  # saturated gates can make the three gate terms vanish
        assert failures(one_step_forget_only, batch) == len(batch)
        assert failures(one_step_without_o, batch) == len(batch)


def test_stability_cases_vanish_for_the_rnn_and_not_along_the_lstm_memory():
    """Over 1,000 steps the RNN gradient falls below 1e-40 of ∇h^τ without underflowing,
    while the LSTM cell path keeps ∏e above 0.999."""
    for c in all_cases("bptt_rnn_gradient", "stability"):
        W, h, g = c.args
        assert 1e-300 < np.linalg.norm(c.expected) / np.linalg.norm(g) < 1e-40, c.label
        assert np.linalg.norm(W, 2) == pytest.approx(0.9)
        assert np.abs(W - W.T).max() > 0.1
    for c in all_cases("bptt_lstm_cell_path", "stability"):
        assert len(c.args[0]) == 1000
        assert np.prod(c.args[0], axis=0).min() > 0.999, c.label


def test_a_saturated_forget_gate_of_the_one_step_question_saturates_towards_zero():
    """At f_t = 1 - 1e-13 the answer would be 1 to 13 digits and `return 1` would pass."""
    for c in all_cases("bptt_one_step_jacobian", "saturated"):
        assert c.args[2] < 1e-3


# -- the same numbers on every CPU --------------------------------------------------------------

FINGERPRINT = '''
import hashlib
import numpy as np

def fingerprint(values) -> str:
    """sha256 of the repr of every float (and label, and int) of nested cases, in order."""
    out = []
    def walk(v):
        if isinstance(v, (list, tuple)):
            for item in v:
                walk(item)
        elif isinstance(v, np.ndarray):
            out.extend(repr(float(a)) for a in v.ravel())
        elif hasattr(v, "__dataclass_fields__"):
            walk([getattr(v, f) for f in v.__dataclass_fields__])
        else:
            out.append(repr(float(v)) if isinstance(v, (float, np.floating)) else repr(v))
    walk(values)
    return hashlib.sha256("|".join(out).encode()).hexdigest()
'''

SCRIPT = FINGERPRINT + '''
import json, sys
from numpy._core._multiarray_umath import __cpu_features__
from grader.tasks import TASKS
plan, gradcheck = json.loads(sys.argv[1])
made = []
for name, regime, seed, count in plan:
    rng = np.random.default_rng(seed)
    made.append([TASKS[name]().case(rng, regime) for _ in range(count)])
fds = [TASKS[name]().finite_difference(made[k][0].args) for name, k in gradcheck]
print(json.dumps([fingerprint(made), fingerprint(fds), __cpu_features__["AVX2"], __cpu_features__["AVX512F"]]))
'''

DISABLED = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR AVX2 FMA3"


def test_cases_are_the_same_bits_without_avx2_fma_or_avx512():
    """A child process whose NumPy may use none of AVX2, FMA3 and AVX-512 (other
    exp, tanh, BLAS and LAPACK kernels) draws byte-identical cases and finite
    differences: the sha256 of the repr of every float is the same."""
    from numpy._core._multiarray_umath import __cpu_features__

    namespace: dict = {}
    exec(FINGERPRINT, namespace)
    plan, gradcheck = [], []
    for name, regime in TASK_REGIMES:
        grad = next((p for p in GRADCHECK if p[0] == name), None) if regime == "ordinary" else None
        plan.append((name, regime, grad[2], 1) if grad else first_case(name, regime))
        if grad:
            gradcheck.append((name, len(plan) - 1))
    here = [namespace["fingerprint"]([cases(*p) for p in plan]),
            namespace["fingerprint"]([finite_difference(plan[k][0], plan[k][2], 0) for _, k in gradcheck])]
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": DISABLED, "LSTM_GRADER_CACHE": "off", "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([plan, gradcheck])], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    there = json.loads(child.stdout.strip().splitlines()[-1])
    assert there[:2] == here
    if __cpu_features__["AVX2"]:
        assert there[2:] == [False, False]      # the child really ran other code paths


# -- the pack ----------------------------------------------------------------------------

def test_every_question_of_the_pack_names_a_task_of_this_module():
    """The pack is worth 20 automatic points over q1-q5, and q6 is graded by hand."""
    assignment = load_assignment(PACK)
    tasks = {q.id: q.task for q in assignment.questions}
    assert tasks == {"q1": "bptt_rnn_gradient", "q2": "bptt_rnn_bound", "q3": "bptt_lstm_cell_path",
                     "q4": "bptt_lstm_cell_bound", "q5": "bptt_one_step_jacobian", "q6": ""}
    assert assignment.max_score == 20.0
    assert {q.id for q in assignment.questions if q.kind == "manual"} == {"q6"}
    assert isinstance(TASKS["bptt_rnn_bound"](), RNNNormBound)


def test_correct_example_is_the_solution_without_markers():
    """examples/correct.ipynb runs exactly the solution's code, so it cannot drift from it."""
    def code(path, keep=lambda line: True):
        nb = nbformat.read(path, as_version=4)
        return ["\n".join(line for line in c.source.split("\n") if keep(line))
                for c in nb.cells if c.cell_type == "code"]

    def unmarked(line):
        return line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")

    solution = code(PACK / "solution.ipynb", unmarked)
    assert solution == code(PACK / "examples" / "correct.ipynb")
    assert solution[0].strip() == (PACK / "helpers.py").read_text(encoding="utf-8").strip()


def test_correct_example_scores_full_marks_on_every_check():
    """Every check of every question passes, with no note about the notebook (the plot
    cell falls back to its table when matplotlib cannot start in the sandbox)."""
    report = grade(load_assignment(PACK), PACK / "examples" / "correct.ipynb")
    assert report.grader_error == ""
    assert report.messages == ()
    assert report.score == report.max_score == 20.0
    for question in report.questions:
        for test in question.tests:
            assert test.status == "passed", (question.name, test.messages)
