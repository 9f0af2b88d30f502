"""The bptt_products tasks: their expected values are the references', a correct
float64 answer passes in every regime whatever order it multiplies in, and the
classic mistakes (reversed product, W for Wᵀ, Frobenius norm, no diag(o^τ),
∂C_t/∂C_{t-1} = f_t) fail."""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import load_assignment
from grader.compare import Tolerance, compare
from grader.grade import grade
from grader.tasks import TASKS
from grader.tasks.bptt import (
    LSTMCellBound,
    OneStepCellJacobian,
    RNNNormBound,
)
from reference.numeric.lstm import LSTMParams, cell_jacobian, cell_path_factor, lstm_forward
from reference.numeric.rnn import (
    lstm_cell_jacobian_bound,
    lstm_cell_path_gradient,
    rnn_backward,
    rnn_forward,
    rnn_grad_k_steps_back,
    rnn_norm_bound,
)

PACK = Path(__file__).resolve().parents[3] / "assignments" / "bptt_products"
TOL = Tolerance()  # what every numeric and stability check of the pack uses
CASES = {"ordinary": 25, "saturated": 25, "stability": 3}


def cases(task_name: str, regime: str, seed: int = 7, count: int | None = None) -> list:
    task = TASKS[task_name]()
    rng = np.random.default_rng(seed)
    return [task.case(rng, regime) for _ in range(count or CASES[regime])]


def failures(fn, case_list) -> int:
    """How many cases ``fn`` fails as the grader would judge it: a wrong value, or a
    floating-point warning (which the sandbox turns into a failure)."""
    bad = 0
    for args, expected, magnitude, _ in case_list:
        try:
            with np.errstate(all="raise", under="ignore"):
                bad += compare(fn(*args), expected, magnitude, TOL) is not None
        except FloatingPointError:
            bad += 1
    return bad


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
    value, magnitude = OneStepCellJacobian.reference((0.0, 0.5, 0.5, 0.5, 0.0, 1.0, 1.0, 1.0))
    assert value == 0.75
    assert magnitude == 0.75


# -- expected values are the references' ---------------------------------------------

@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_rnn_gradient_expected_is_the_eq1_reference(regime):
    """Every case's expected value is rnn_grad_k_steps_back at the case's states, and
    its magnitude is finite and at least the size of the answer."""
    for (W, h, g), expected, magnitude, _ in cases("bptt_rnn_gradient", regime):
        k, n = h.shape
        assert np.array_equal(expected, rnn_grad_k_steps_back(W, np.vstack([np.zeros(n), h]), g, k, k))
        assert np.isfinite(magnitude) and magnitude >= np.linalg.norm(expected)


def test_eq1_reference_equals_bptt_from_the_last_state():
    """Eq. (1) over a whole 6-step sequence is the ∇h^0 of full BPTT with the loss on h^T only."""
    rng = np.random.default_rng(3)
    W, U, b = rng.normal(size=(4, 4)) / 2, rng.normal(size=(4, 2)), rng.normal(size=4)
    trace = rnn_forward(W, U, b, rng.normal(size=(6, 2)), rng.normal(size=4))
    g = rng.normal(size=4)
    bptt = rnn_backward(W, U, trace, grad_h_last=g)
    np.testing.assert_allclose(rnn_grad_k_steps_back(W, trace.hs, g, 6, 6), bptt.h0, rtol=1e-12)


@pytest.mark.parametrize("regime", ["ordinary", "stability"])
def test_rnn_bound_expected_is_eq2(regime):
    """Every case's expected value is rnn_norm_bound, i.e. the largest singular value to the k."""
    for (W, k), expected, _, label in cases("bptt_rnn_bound", regime):
        assert expected == rnn_norm_bound(W, k)
        assert expected == pytest.approx(np.linalg.svd(W, compute_uv=False)[0] ** k, rel=1e-11), label


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_lstm_path_expected_is_eq3(regime):
    """Every case's expected value is lstm_cell_path_gradient at the case's arguments."""
    for (e, s, o, g), expected, _, _ in cases("bptt_lstm_cell_path", regime):
        assert np.array_equal(expected, lstm_cell_path_gradient(e, s, o, g))


@pytest.mark.parametrize("seed,shift", [(0, 0.0), (1, 0.0), (2, 12.0)])
def test_lstm_bound_reference_equals_lstm_cell_jacobian_bound(seed, shift):
    """The task's shortcut (J computed once) gives exactly what lstm_cell_jacobian_bound gives."""
    rng = np.random.default_rng(seed)
    params = LSTMParams.random(3, 2, 1, rng, scale=0.9, forget_bias=shift, input_bias=-shift)
    trace = lstm_forward(params, rng.normal(size=(6, 2)), rng.normal(size=3), rng.normal(size=3))
    ref = lstm_cell_jacobian_bound(params, trace, 6, 4)
    got = LSTMCellBound.reference(cell_jacobian(params, trace, 6, 4), cell_path_factor(trace, 6, 4), 4)
    assert got == (ref.cell_path_norm, ref.c_norm, ref.bound)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_lstm_bound_cases_are_consistent(regime):
    """path_norm is the largest ∏e (to ~kε), bound = c_norm + 1, and ‖J‖ ≤ bound as (4) says."""
    for (J, e), (path_norm, c_norm, bound), _, label in cases("bptt_lstm_cell_bound", regime):
        assert path_norm == pytest.approx(np.max(np.prod(e, axis=0)), rel=1e-12), label
        assert bound == c_norm + 1.0
        assert np.linalg.norm(J, 2) <= bound


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
        numpy_value = cell_jacobian(params, trace, tau, 1)[0, 0]
        assert abs(value - numpy_value) <= 1e-13 * magnitude


@pytest.mark.parametrize("task_name", ["bptt_rnn_gradient", "bptt_one_step_jacobian"])
def test_finite_differences_of_the_forward_pass_agree_with_expected(task_name):
    """The gradcheck oracle is accurate to 1e-7 on 200 ordinary cases, ten times
    inside the check's 1e-6, so a correct answer cannot fail gradcheck."""
    task = TASKS[task_name]()
    rng = np.random.default_rng(11)
    worst = 0.0
    for _ in range(200):
        args, expected, _, _ = task.case(rng, "ordinary")
        fd = task.finite_difference(args)
        worst = max(worst, float(np.linalg.norm(fd - expected) / np.linalg.norm(expected)))
    assert worst < 1e-7


# -- correct answers pass, mistakes fail -------------------------------------------------

@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_rnn_gradient_correct_in_any_order_passes_and_both_classic_mistakes_fail(regime):
    """Vector-from-the-right and matrices-from-the-left both pass, with (1 - h)(1 + h)
    too; the reversed product and W in place of Wᵀ fail every case, including the
    1,000-step ones where the gradient has vanished below 1e-40."""
    batch = cases("bptt_rnn_gradient", regime)
    assert failures(rnn_vector, batch) == 0
    assert failures(rnn_matrices_left_to_right, batch) == 0
    assert failures(rnn_reversed, batch) == len(batch)
    assert failures(rnn_untransposed, batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "stability"])
def test_rnn_bound_spectral_passes_and_frobenius_or_spectral_radius_fail(regime):
    """‖W‖₂^k passes, also through the eigenvalues of WᵀW; the Frobenius norm and the
    spectral radius fail every case, for k up to 1,000 on both sides of ‖W‖₂ = 1."""
    batch = cases("bptt_rnn_bound", regime, count=20)
    if regime == "stability":
        norms = [np.linalg.norm(W, 2) for (W, _), *_ in batch]
        assert min(norms) < 1 < max(norms)
    assert failures(bound_spectral, batch) == 0
    assert failures(bound_eigen, batch) == 0
    assert failures(bound_frobenius, batch) == len(batch)
    assert failures(bound_spectral_radius, batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_lstm_path_correct_passes_and_dropping_o_fails(regime):
    """∏e·(1 - tanh²s)·o·∇h passes (also summed in log space); without diag(o^τ) it
    fails every ordinary and stability case."""
    batch = cases("bptt_lstm_cell_path", regime)
    assert failures(path_gradient, batch) == 0
    assert failures(path_gradient_log_space, batch) == 0
    wrong = failures(path_gradient_without_o, batch)
    assert wrong == len(batch) if regime != "saturated" else wrong >= len(batch) // 2


def test_lstm_path_last_gate_only_fails_whenever_k_exceeds_one():
    """Keeping only e^τ fails every ordinary case with k > 1."""
    batch = [c for c in cases("bptt_lstm_cell_path", "ordinary") if len(c[0][0]) > 1]
    assert len(batch) >= 15
    assert failures(path_gradient_last_gate_only, batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_lstm_bound_spectral_split_passes_and_frobenius_or_no_split_fail(regime):
    """The split J - ∏diag(e) with spectral norms passes; the Frobenius norm and ‖J‖
    without subtracting the cell path fail every ordinary and 1,000-step case."""
    batch = cases("bptt_lstm_cell_bound", regime)
    assert failures(cell_bound, batch) == 0
    if regime != "saturated":  # saturated gates leave c nearly rank one: Frobenius ≈ spectral
        assert failures(lambda J, e: cell_bound(J, e, norm=np.linalg.norm), batch) == len(batch)
        assert failures(lambda J, e: cell_bound(J, e, subtract=False), batch) == len(batch)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability"])
def test_one_step_four_terms_pass_and_forget_gate_only_fails(regime):
    """All four terms pass; f_t alone (the common misconception) and dropping o_{t-1}
    fail every ordinary case and every case with f ≈ 1, i ≈ 0, where the three gate
    terms are ~3e-7 of the answer."""
    batch = cases("bptt_one_step_jacobian", regime)
    assert failures(one_step, batch) == 0
    if regime != "saturated":  # saturated gates make the three gate terms vanish
        assert failures(one_step_forget_only, batch) == len(batch)
        assert failures(one_step_without_o, batch) == len(batch)


def test_stability_cases_vanish_for_the_rnn_and_not_along_the_lstm_memory():
    """Over 1,000 steps the RNN gradient falls below 1e-40 of ∇h^τ without underflowing,
    while the LSTM cell path keeps ∏e above 0.999."""
    for (W, h, g), expected, _, label in cases("bptt_rnn_gradient", "stability"):
        ratio = np.linalg.norm(expected) / np.linalg.norm(g)
        assert 1e-300 < ratio < 1e-40, label
        assert np.linalg.norm(W, 2) == pytest.approx(0.9)
        assert np.abs(W - W.T).max() > 0.1
    for (e, _, _, _), _, _, label in cases("bptt_lstm_cell_path", "stability"):
        assert len(e) == 1000
        assert np.prod(e, axis=0).min() > 0.999, label


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
