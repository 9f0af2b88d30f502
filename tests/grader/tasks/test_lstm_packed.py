"""The packed-layout LSTM pack: its tasks against reference.numeric.packed and
finite differences, its tolerances against correct and wrong float64 code,
its drivers, and the grades of its example submissions."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.compare import Tolerance, compare
from grader.tasks import TASKS
from grader.tasks.lstm_packed import SequenceBackward, SequenceForward, StepBackward, StepForward
from reference.numeric import packed

PACK = Path(__file__).resolve().parents[3] / "assignments" / "lstm_packed"
TOL = Tolerance()
FD_RTOL = 1e-6


def sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """A correct step rounded differently from the reference: one product with
    [x, prev_h] stacked against [Wx; Wh]."""
    H = prev_h.shape[1]
    a = np.hstack([x, prev_h]) @ np.vstack([Wx, Wh]) + b
    i, f, o, g = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    return o * np.tanh(c), c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, c)


def step_backward(dnext_h, dnext_c, cache, tanh_slope=lambda t: 1 - t ** 2):
    """Value-form backward: σ' as a(1 - a), tanh' as 1 - t² (or as given)."""
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, c = cache
    dc = dnext_c + dnext_h * o * tanh_slope(np.tanh(c))
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * np.tanh(c) * o * (1 - o),
                    dc * i * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def sequence_backward(x, h0, Wx, Wh, b, dh, carry=True):
    """Forward then backward over a sequence; carry=False drops dprev_c between steps."""
    N, T, D = x.shape
    H = h0.shape[1]
    caches, prev_h, prev_c = [], h0, np.zeros((N, H))
    for t in range(T):
        prev_h, prev_c, cache = step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        caches.append(cache)
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, a, w, c = step_backward(dh[:, t] + dprev_h, dprev_c if carry else 0 * dprev_c,
                                                            caches[t])
        dWx, dWh, db = dWx + a, dWh + w, db + c
    return dx, dprev_h, dWx, dWh, db


def cases(task, regime, count, seed=0):
    rng = np.random.default_rng(seed)
    return [task.case(rng, regime) for _ in range(count)]


def assert_fd_close(got: tuple, fd: tuple):
    for k, (a, b) in enumerate(zip(got, fd)):
        assert np.linalg.norm(a - b) <= FD_RTOL * np.linalg.norm(a) + 1e-12, f"output {k}"


# -- the tasks against the reference -------------------------------------------

def test_the_four_tasks_are_registered():
    assert (TASKS["packed_step_forward"], TASKS["packed_step_backward"], TASKS["packed_forward"],
            TASKS["packed_backward"]) == (StepForward, StepBackward, SequenceForward, SequenceBackward)


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "extreme"])
def test_step_cases_are_the_reference_at_the_students_arguments(regime):
    """Forward (next_h, next_c) and backward (dx, dprev_h, dprev_c, dWx, dWh, db) are
    reference.numeric.packed at exactly the arguments the driver receives."""
    for args, expected, _, _ in cases(StepForward(), regime, 5):
        assert all(np.array_equal(e, r) for e, r in zip(expected, packed.lstm_step_forward(*args)[:2]))
    for args, expected, _, _ in cases(StepBackward(), regime, 5):
        x, prev_h, prev_c, Wx, Wh, b, dnext_h, dnext_c = args
        reference = packed.lstm_step_backward(dnext_h, dnext_c, packed.lstm_step_forward(*args[:6])[2])
        assert len(expected) == 6 and all(np.array_equal(e, r) for e, r in zip(expected, reference))


@pytest.mark.parametrize("regime", ["ordinary", "stability"])
def test_sequence_cases_are_the_reference_at_the_students_arguments(regime):
    for args, expected, _, label in cases(SequenceForward(), regime, 1):
        assert np.array_equal(expected, packed.lstm_forward(*args)[0])
    for args, expected, _, label in cases(SequenceBackward(), regime, 1):
        reference = packed.lstm_backward(args[5], packed.lstm_forward(*args[:5])[1])
        assert len(expected) == 5 and all(np.array_equal(e, r) for e, r in zip(expected, reference))
    if regime == "stability":
        assert label.startswith("T = 1000")


def test_the_stability_regime_shuts_the_input_gate_and_opens_the_forget_gate():
    """b[:H] ≈ -15 and b[H:2H] ≈ +15 in the packed i, f, o, g order."""
    (args, *_), = cases(SequenceForward(), "stability", 1)
    b, H = args[4], args[1].shape[1]
    assert np.all(np.abs(b[:H] + 15) < 1) and np.all(np.abs(b[H:2 * H] - 15) < 1)


def test_both_backward_tasks_agree_with_finite_differences_of_the_reference_forward():
    for task in (StepBackward(), SequenceBackward()):
        for args, expected, _, _ in cases(task, "ordinary", 2, seed=1):
            assert_fd_close(expected, task.finite_difference(args))


# -- tolerances: correct float64 code passes, a wrong term fails -----------------------

REGIMES = [("ordinary", 20), ("saturated", 40), ("extreme", 10)]


@pytest.mark.parametrize("regime,count", REGIMES)
def test_a_correct_step_rounded_differently_passes(regime, count):
    for args, expected, magnitude, label in cases(StepForward(), regime, count, seed=2):
        assert compare(step_forward(*args)[:2], expected, magnitude, TOL) is None, label
    for args, expected, magnitude, label in cases(StepBackward(), regime, count, seed=3):
        cache = step_forward(*args[:6])[2]
        assert compare(step_backward(*args[6:], cache), expected, magnitude, TOL) is None, label


@pytest.mark.parametrize("regime,count", REGIMES + [("stability", 2)])
def test_a_correct_sequence_rounded_differently_passes(regime, count):
    for args, expected, magnitude, label in cases(SequenceBackward(), regime, count, seed=4):
        assert compare(sequence_backward(*args), expected, magnitude, TOL) is None, label


def test_tanh_prime_written_as_one_minus_tanh_fails_one_step():
    failed = 0
    for args, expected, magnitude, _ in cases(StepBackward(), "ordinary", 10, seed=5):
        cache = step_forward(*args[:6])[2]
        failed += compare(step_backward(*args[6:], cache, tanh_slope=lambda t: 1 - t), expected, magnitude,
                          TOL) is not None
    assert failed == 10


@pytest.mark.parametrize("regime,count", [("ordinary", 10), ("stability", 2)])
def test_dropping_dprev_c_between_steps_fails(regime, count):
    """Over 1,000 steps with f ≈ 1 the cell carries nearly all of the gradient."""
    for args, expected, magnitude, label in cases(SequenceBackward(), regime, count, seed=6):
        mismatch = compare(sequence_backward(*args, carry=False), expected, magnitude, TOL)
        assert mismatch is not None and mismatch.kind == "value", label


# -- the drivers of helpers.py --------------------------------------------------------

def drivers(student_source: str) -> dict:
    namespace: dict = {}
    exec(compile((PACK / "helpers.py").read_text(), "helpers.py", "exec"), namespace)
    exec(student_source, namespace)
    return namespace


def test_a_backward_that_overwrites_an_array_inside_an_object_cache_is_named():
    ns = drivers("def lstm_forward(x, h0, Wx, Wh, b):\n"
                 "    cache = Cache()\n"
                 "    cache.steps = [{'f': np.ones(2)}, {'f': np.ones(2)}]\n"
                 "    return h0, cache\n"
                 "def lstm_backward(dh, cache):\n"
                 "    cache.steps[1]['f'] -= 1\n"
                 "    return dh, dh, dh, dh, dh\n")
    ns["Cache"] = type("Cache", (), {"__module__": "__main__"})
    with pytest.raises(ValueError, match=re.escape("lstm_backward changed cache.steps[1]['f'] in place")):
        ns["check_backward"](None, np.zeros(2), None, None, None, np.zeros(2))


def test_a_forward_without_its_cache_is_refused_with_the_expected_outputs():
    ns = drivers("def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):\n    return prev_h, prev_c\n")
    with pytest.raises(TypeError, match=re.escape("must return (next_h, next_c, cache), not a tuple of length 2")):
        ns["check_step_forward"](None, np.zeros(2), np.zeros(2), None, None, None)


def test_shared_arrays_in_a_cache_are_copied_once():
    """1,000 step caches all holding Wx and Wh must not mean 2,000 copies of them."""
    ns = drivers("")
    W = np.zeros((3, 8))
    found = ns["_arrays_in"]([(W, np.ones(2)) for _ in range(1000)], "cache", set())
    assert len(found) == 1001


# -- the pack -------------------------------------------------------------------------

def test_the_pack_keeps_the_course_materials_names():
    a = load_assignment(PACK)
    assert [(q.id, q.points) for q in a.questions] == [("q1", 4.0), ("q2", 8.0), ("q3", 6.0), ("q4", 12.0),
                                                       ("q5", 2.0)]
    assert a.max_score == 30.0
    helpers = (PACK / "helpers.py").read_text()
    for call in ("lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)", "lstm_step_backward(dnext_h, dnext_c, cache)",
                 "lstm_forward(x, h0, Wx, Wh, b)", "lstm_backward(dh, cache)"):
        assert call in helpers
