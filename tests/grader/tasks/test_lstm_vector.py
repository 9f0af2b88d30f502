"""The vector LSTM homework: its tasks against the NumPy reference and finite
differences, its tolerances against correct and wrong float64 code, its
drivers, and the grades of its example submissions."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.compare import Tolerance, compare
from grader.tasks import TASKS
from grader.tasks.lstm_vector import (
    GATE_WEIGHTS, HOMEWORK_NAMES, GateGradients, StepBackward, WeightGradients, numeric_params,
)
from reference.numeric.lstm import lstm_backward, lstm_forward

PACK = Path(__file__).resolve().parents[3] / "assignments" / "lstm_vector"
TOL = Tolerance()
FD_RTOL = 1e-6


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def value_form_bptt(weights, x, h0, C0, grad_y, carry=True):
    """BPTT as a student writes it, σ' as a(1 - a) and tanh' as 1 - a²; with
    carry=False it drops f_{t+1} ⊙ ∇C_{t+1} from ∇C_t."""
    w = weights
    h, C = h0, C0
    steps = []
    for x_t in x:
        z = {g: w["W_h" + g] @ h + w["W_x" + g] @ x_t + w["W_0" + g] for g in "fioc"}
        f, i, o, Ct = sigmoid(z["f"]), sigmoid(z["i"]), sigmoid(z["o"]), np.tanh(z["c"])
        C_new = f * C + i * Ct
        h_new = o * np.tanh(C_new)
        steps.append(dict(x=x_t, h_prev=h, C_prev=C, f=f, i=i, o=o, Ct=Ct, C=C_new, h=h_new,
                          y=sigmoid(w["W_y"] @ h_new + w["W_0y"])))
        h, C = h_new, C_new
    grads = {k: np.zeros(np.shape(v)) for k, v in w.items()}
    next_h, next_C = np.zeros_like(h0), np.zeros_like(C0)
    for t in reversed(range(len(x))):
        s = steps[t]
        gzy = s["y"] * (1 - s["y"]) * grad_y[t]
        grads["W_y"] += np.outer(gzy, s["h"])
        grads["W_0y"] += gzy
        gh = w["W_y"].T @ gzy + next_h
        gC = s["o"] * (1 - np.tanh(s["C"]) ** 2) * gh + (next_C if carry else 0)
        gz = {"o": s["o"] * (1 - s["o"]) * np.tanh(s["C"]) * gh, "f": s["f"] * (1 - s["f"]) * s["C_prev"] * gC,
              "i": s["i"] * (1 - s["i"]) * s["Ct"] * gC, "c": (1 - s["Ct"] ** 2) * s["i"] * gC}
        for g in "fioc":
            grads["W_h" + g] += np.outer(gz[g], s["h_prev"])
            grads["W_x" + g] += np.outer(gz[g], s["x"])
            grads["W_0" + g] += gz[g]
        next_h = sum(w["W_h" + g].T @ gz[g] for g in "fioc")
        next_C = s["f"] * gC
    return tuple(grads[k] for k in HOMEWORK_NAMES)


def value_form_step(grad_h, grad_C, cache, weights, slope=lambda a: a * (1 - a)):
    c = cache
    gz = {"o": slope(c["o"]) * np.tanh(c["C"]) * grad_h, "f": slope(c["f"]) * c["C_prev"] * grad_C,
          "i": slope(c["i"]) * c["Ct"] * grad_C, "c": (1 - c["Ct"] ** 2) * c["i"] * grad_C}
    per = {}
    for g in "fioc":
        per["W_h" + g], per["W_x" + g], per["W_0" + g] = np.outer(gz[g], c["h_prev"]), np.outer(gz[g], c["x"]), gz[g]
    grad_h_prev = sum(weights["W_h" + g].T @ gz[g] for g in "fioc")
    return (grad_h_prev, c["f"] * grad_C) + tuple(per[k] for k in GATE_WEIGHTS)


def cases(task, regime, count, seed=0):
    rng = np.random.default_rng(seed)
    return [task.case(rng, regime) for _ in range(count)]


def assert_fd_close(got: tuple, fd: tuple):
    for k, (a, b) in enumerate(zip(got, fd)):
        assert np.linalg.norm(a - b) <= FD_RTOL * np.linalg.norm(a) + 1e-12, f"output {k}"


# -- the tasks against the reference -------------------------------------------

def test_the_three_tasks_are_registered():
    """The pack's task names resolve to this module's classes."""
    assert TASKS["vector_gate_gradients"] is GateGradients
    assert TASKS["vector_step_backward"] is StepBackward
    assert TASKS["vector_weight_gradients"] is WeightGradients


@pytest.mark.parametrize("regime", ["ordinary", "saturated"])
def test_gate_gradients_are_the_reference_recurrences_at_the_given_gradients(regime):
    """∇o = tanh(C)∇h, ∇f = C_prev∇C, ∇i = C̃∇C, ∇C̃ = i∇C, bit for bit, with ∇h, ∇C the
    reference's own totals."""
    for args, expected, magnitude, _ in cases(GateGradients(), regime, 20):
        grad_h, grad_C, C, C_prev, i, Ct = args
        for got, want in zip(expected, (np.tanh(C) * grad_h, C_prev * grad_C, Ct * grad_C, i * grad_C)):
            assert np.array_equal(got, want)
        assert all(np.all(m >= np.abs(e)) for m, e in zip(magnitude, expected))


def test_step_backward_cache_is_a_reference_forward_step():
    """The cache handed to step_backward is what the reference's forward makes of
    (x_t, h_{t-1}, C_{t-1}) with those weights, so the step is a real LSTM step."""
    for (grad_h, grad_C, cache, weights), *_ in cases(StepBackward(), "ordinary", 10):
        trace = lstm_forward(numeric_params(weights), cache["x"][None], cache["h_prev"], cache["C_prev"])
        for key in ("f", "i", "o", "Ct", "C"):
            np.testing.assert_allclose(cache[key], getattr(trace, key)[0], rtol=1e-14, atol=1e-15)


def test_step_backward_agrees_with_finite_differences_of_the_reference_forward():
    """Every output of one step (∇h_{t-1}, ∇C_{t-1}, twelve weight gradients) within
    1e-6 of central differences of the reference forward step."""
    task = StepBackward()
    for args, expected, _, _ in cases(task, "ordinary", 4, seed=1):
        assert len(expected) == 14
        assert_fd_close(expected, task.finite_difference(args))


def test_weight_gradients_equal_the_reference_bptt_and_finite_differences():
    """Each weight's gradient is the reference's lstm_backward at the student's
    arguments, bit for bit, and within 1e-6 of finite differences of its forward."""
    task = WeightGradients()
    for args, expected, _, _ in cases(task, "ordinary", 2, seed=2):
        weights, x, h0, C0, grad_y = args
        params = numeric_params(weights)
        reference = lstm_backward(params, lstm_forward(params, x, h0, C0), grad_y).params
        for name, got in zip(HOMEWORK_NAMES, expected):
            assert np.array_equal(got, getattr(reference, name.replace("W_0", "b_")))
        assert_fd_close(expected, task.finite_difference(args))


def test_one_weight_is_a_bare_matrix_that_gradcheck_can_compare():
    """weights = ["W_hi"] yields the (n, n) matrix itself, and its finite difference too."""
    task = WeightGradients(weights=["W_hi"])
    (args, expected, magnitude, label), = cases(task, "ordinary", 1, seed=3)
    n = args[2].shape[0]
    assert expected.shape == magnitude.shape == (n, n)
    fd = task.finite_difference(args)
    assert np.linalg.norm(fd - expected) <= FD_RTOL * np.linalg.norm(expected)
    assert label.startswith(f"T = {len(args[1])}, n = {n}")


def test_unknown_weights_and_mismatched_outputs_are_refused():
    with pytest.raises(ValueError, match="unknown weights"):
        WeightGradients(weights=["W_hz"])
    with pytest.raises(ValueError, match="outputs names 3"):
        GateGradients(outputs=("a", "b", "c"))


# -- tolerances: correct float64 code passes, a missing term fails ----------------------

@pytest.mark.parametrize("regime,count", [("ordinary", 20), ("saturated", 40), ("stability", 2), ("extreme", 20)])
def test_a_correct_value_form_bptt_passes_every_regime(regime, count):
    """σ' from rounded gate values loses all relative accuracy at saturation; the
    magnitude must absorb that, here and over 1,000 steps."""
    for args, expected, magnitude, label in cases(WeightGradients(), regime, count, seed=4):
        assert compare(value_form_bptt(*args), expected, magnitude, TOL) is None, label


@pytest.mark.parametrize("regime,count,least", [("ordinary", 10, 10), ("stability", 2, 2), ("saturated", 40, 30)])
def test_dropping_the_cell_carry_fails(regime, count, least):
    """Without f_{t+1} ⊙ ∇C_{t+1} the answer fails every ordinary and T = 1000 case and
    most saturated ones (a case can only pass where every forget gate is shut)."""
    failed = sum(compare(value_form_bptt(*a, carry=False), e, m, TOL) is not None
                 for a, e, m, _ in cases(WeightGradients(), regime, count, seed=5))
    assert failed >= least


def test_the_stability_tolerance_stays_far_below_the_answer():
    """Counting σ' as f(1+f) along the whole recurrence would grow the scale like 2^T
    (1e45 at T = 1000) and pass anything. Carried with the true slopes, the absolute
    part of the tolerance stays under 1e-4 of every weight's gradient, although
    1 - f from f = σ(15) keeps only 9 digits."""
    (args, expected, magnitude, _), = cases(WeightGradients(), "stability", 1, seed=6)
    for name, e, m in zip(HOMEWORK_NAMES, expected, magnitude):
        assert TOL.bound(0.0, np.linalg.norm(m)) < 1e-4 * np.linalg.norm(e), name


def test_sigma_prime_written_as_sigma_fails_one_step():
    """A step with σ' replaced by the gate value fails at ordinary and saturated gates,
    while the correct value-form step passes both."""
    for regime in ("ordinary", "saturated"):
        for args, expected, magnitude, label in cases(StepBackward(), regime, 10, seed=7):
            assert compare(value_form_step(*args), expected, magnitude, TOL) is None, label
            assert compare(value_form_step(*args, slope=lambda a: a), expected, magnitude, TOL) is not None


# -- the drivers of helpers.py --------------------------------------------------------

def drivers(student_source: str) -> dict:
    namespace: dict = {}
    exec(compile((PACK / "helpers.py").read_text(), "helpers.py", "exec"), namespace)
    exec(student_source, namespace)
    return namespace


def test_check_step_backward_names_a_missing_weight_gradient():
    ns = drivers("def step_backward(grad_h, grad_C, cache, weights):\n"
                 "    return grad_h, grad_C, {name: 0.0 for name in GATE_WEIGHT_NAMES[:-1]}\n")
    with pytest.raises(ValueError, match="the dict returned by step_backward has no W_0c"):
        ns["check_step_backward"](np.ones(2), np.ones(2), {"f": np.ones(2)}, {})


def test_check_step_backward_reports_a_cache_changed_in_place():
    ns = drivers("def step_backward(grad_h, grad_C, cache, weights):\n"
                 "    cache['f'] *= 2\n"
                 "    return grad_h, grad_C, {}\n")
    with pytest.raises(ValueError, match=re.escape("step_backward changed cache['f'] in place")):
        ns["check_step_backward"](np.ones(2), np.ones(2), {"f": np.ones(2)}, {})


def test_check_bptt_flattens_the_dict_in_homework_order():
    ns = drivers("def bptt(weights, x, h0, C0, grad_y):\n"
                 "    return {name: float(k) for k, name in enumerate(reversed(WEIGHT_NAMES))}\n")
    assert ns["check_bptt"]({}, None, None, None, None) == tuple(float(k) for k in range(13, -1, -1))


# -- the pack -------------------------------------------------------------------------

def test_the_pack_declares_four_graded_questions_worth_thirty_points():
    a = load_assignment(PACK)
    assert [(q.id, q.points, q.kind) for q in a.questions] == [
        ("q1", 4.0, "task"), ("q2", 8.0, "task"), ("q3", 10.0, "task"), ("q4", 8.0, "task"), ("q5", 4.0, "manual")]
    assert a.max_score == 30.0
