"""The vector LSTM homework: its tasks' exact expected values against the NumPy
reference (the independent oracle) and exact finite differences, its tolerances
against correct and wrong float64 code at the cases the pack actually grades,
bit-reproducibility across NumPy's CPU dispatch, its drivers, and the pack."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.compare import Tolerance, compare
from grader.problems import seed_for
from grader.regimes import NOTES, STABILITY_T
from grader.tasks import TASKS
from grader.tasks.base import TaskCase
from grader.tasks.lstm_vector import (
    GATE_WEIGHTS, HOMEWORK_NAMES, TO_NUMERIC, GateGradients, StepBackward, WeightGradients, numeric_params,
)
from reference.exact import lstm as exact
from reference.exact.fixed import Fixed
from reference.numeric.activations import dsigmoid, dtanh
from reference.numeric.lstm import lstm_backward, lstm_forward

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "assignments" / "lstm_vector"
TOL = Tolerance()                        # what the pack grades with: rtol 1e-9, κ = 256
GATES = "fioc"


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


# -- correct and wrong float64 answers, written independently of the tasks ----------

def value_form_bptt(weights, x, h0, C0, grad_y, carry=True):
    """BPTT as a student writes it, σ' as a(1 - a) and tanh' as 1 - a²; with
    carry=False it drops f_{t+1} ⊙ ∇C_{t+1} from ∇C_t."""
    w = weights
    h, C = h0, C0
    steps = []
    for x_t in x:
        z = {g: w["W_h" + g] @ h + w["W_x" + g] @ x_t + w["W_0" + g] for g in GATES}
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
        for g in GATES:
            grads["W_h" + g] += np.outer(gz[g], s["h_prev"])
            grads["W_x" + g] += np.outer(gz[g], s["x"])
            grads["W_0" + g] += gz[g]
        next_h = sum(w["W_h" + g].T @ gz[g] for g in GATES)
        next_C = s["f"] * gC
    return tuple(grads[k] for k in HOMEWORK_NAMES)


def value_form_step(grad_h, grad_C, cache, weights, slope=lambda a: a * (1 - a)):
    c = cache
    gz = {"o": slope(c["o"]) * np.tanh(c["C"]) * grad_h, "f": slope(c["f"]) * c["C_prev"] * grad_C,
          "i": slope(c["i"]) * c["Ct"] * grad_C, "c": (1 - c["Ct"] ** 2) * c["i"] * grad_C}
    per = {}
    for g in GATES:
        per["W_h" + g], per["W_x" + g], per["W_0" + g] = np.outer(gz[g], c["h_prev"]), np.outer(gz[g], c["x"]), gz[g]
    grad_h_prev = sum(weights["W_h" + g].T @ gz[g] for g in GATES)
    return (grad_h_prev, c["f"] * grad_C) + tuple(per[k] for k in GATE_WEIGHTS)


def numpy_step(grad_h, grad_C, cache, weights):
    """One step's backward by the NumPy reference's forward and its accurate σ', tanh'."""
    params = numeric_params({**weights})
    tr = lstm_forward(params, cache["x"][None], cache["h_prev"], cache["C_prev"])
    gz = {"o": dsigmoid(tr.z_o[0]) * np.tanh(tr.C[0]) * grad_h, "f": dsigmoid(tr.z_f[0]) * cache["C_prev"] * grad_C,
          "i": dsigmoid(tr.z_i[0]) * tr.Ct[0] * grad_C, "c": dtanh(tr.z_c[0]) * tr.i[0] * grad_C}
    per = {}
    for g in GATES:
        per["W_h" + g], per["W_x" + g], per["W_0" + g] = np.outer(gz[g], cache["h_prev"]), np.outer(gz[g], cache["x"]), gz[g]
    return (sum(weights["W_h" + g].T @ gz[g] for g in GATES), tr.f[0] * grad_C) + tuple(per[k] for k in GATE_WEIGHTS)


def numpy_answer(task, args):
    """The NumPy reference's own answer: a correct float64 one."""
    if isinstance(task, GateGradients):
        grad_h, grad_C, C, C_prev, i, Ct = args
        return np.tanh(C) * grad_h, C_prev * grad_C, Ct * grad_C, i * grad_C
    if isinstance(task, StepBackward):
        return numpy_step(*args)
    weights, x, h0, C0, grad_y = args
    params = numeric_params(weights)
    grads = lstm_backward(params, lstm_forward(params, x, h0, C0), grad_y).params
    picked = tuple(getattr(grads, TO_NUMERIC[w]) for w in task.weights)
    return picked[0] if len(picked) == 1 else picked


def value_form_answer(task, args):
    if isinstance(task, StepBackward):
        return value_form_step(*args)
    by_name = dict(zip(HOMEWORK_NAMES, value_form_bptt(*args)))
    picked = tuple(by_name[w] for w in task.weights)
    return picked[0] if len(picked) == 1 else picked


# -- the cases the pack grades ----------------------------------------------------------

def graded() -> list[tuple[str, str, tuple, str, int, int]]:
    """(question, task name, options, regime, seed, count) of every case the pack's
    checks grade, seeded as grader/checks seed them."""
    a = load_assignment(PACK)
    out = []
    for q in a.questions:
        if q.kind != "task":
            continue
        regimes = TASKS[q.task].regimes
        for spec in q.checks:
            if spec.check == "numeric":
                chosen = spec.option("regimes", ("ordinary", "saturated"))
                count = max(1, int(spec.option("points", 20)) // len(chosen))
                out += [(q.id, q.task, q.options, r, seed_for(a.name, a.seed, q.id, "numeric", r), count)
                        for r in chosen]
            elif spec.check == "stability":
                chosen = [r for r in spec.option("regimes", ("stability", "extreme")) if r in regimes]
                out += [(q.id, q.task, q.options, r, seed_for(a.name, a.seed, q.id, "stability", r),
                         int(spec.option("points", 2))) for r in chosen]
            elif spec.check == "gradcheck":
                out.append((q.id, q.task, q.options, "ordinary", seed_for(a.name, a.seed, q.id, "gradcheck"),
                            int(spec.option("points", 4))))
    return out


def task_of(qid: str):
    q = next(q for q in load_assignment(PACK).questions if q.id == qid)
    return TASKS[q.task](**dict(q.options)), q.task, q.options


@lru_cache(maxsize=None)
def cases(name: str, options: tuple, regime: str, seed: int, count: int) -> tuple[TaskCase, ...]:
    rng = np.random.default_rng(seed)
    task = TASKS[name](**dict(options))
    return tuple(task.case(rng, regime) for _ in range(count))


def all_cases(qid: str, regime: str):
    """The graded cases of question ``qid`` in ``regime``, and a few more at small seeds."""
    _, name, options = task_of(qid)
    found = [c for q, n, o, r, seed, count in graded() if q == qid and r == regime
             for c in cases(n, o, r, seed, count)]
    extra = ((0, 1),) if regime == "stability" else ((0, 3), (1, 3))
    return found + [c for seed, count in extra for c in cases(name, options, regime, seed, count)]


QUESTIONS = [("q1", r) for r in GateGradients.regimes] + [("q2", r) for r in StepBackward.regimes] \
    + [(q, r) for q in ("q3", "q4") for r in WeightGradients.regimes]


def beyond_bound(answer, case: TaskCase, tol: Tolerance = TOL) -> bool:
    """Whether ``answer`` fails the pack's criterion: a wrong structure, shape or a NaN,
    or an output off by more than rtol·‖e‖ + κ·ε·‖magnitude‖ (normwise, as compare()
    measures; compare() also lets 1e-6 relative pass with a note, this does not)."""
    expected, magnitude = case.expected, case.magnitude
    if not isinstance(expected, tuple):
        answer, expected, magnitude = (answer,), (expected,), (magnitude,)
    elif not isinstance(answer, (tuple, list)) or len(answer) != len(expected):
        return True
    for got, want, scale in zip(answer, expected, magnitude):
        if isinstance(got, dict) or np.shape(got) != np.shape(want):
            return True
        got = np.asarray(got, dtype=float)
        if not np.all(np.isfinite(got)):
            return True
        if np.linalg.norm(got - want) > tol.bound(np.linalg.norm(want), np.linalg.norm(scale)):
            return True
    return False


def fails(answer, case: TaskCase) -> bool:
    """Rejected by the grader's comparison and beyond the bound itself."""
    return compare(answer, case.expected, case.magnitude, TOL) is not None and beyond_bound(answer, case)


def passes(answer, case: TaskCase) -> bool:
    return compare(answer, case.expected, case.magnitude, TOL) is None and not beyond_bound(answer, case)


def inputs(args) -> list:
    """Every array the student's function receives (inside the cache and weights dicts too)."""
    out = []
    for a in args:
        out += list(a.values()) if isinstance(a, dict) else [a]
    return out


def nonsense(case: TaskCase, substitute: bool = True) -> list:
    """Answers that must not pass: 1, NaN, ones and NaNs of the right structure, each
    input array returned whole, and (``substitute``) each input put in place of an
    output of its shape."""
    expected = case.expected if isinstance(case.expected, tuple) else (case.expected,)

    def shaped(outputs):
        return tuple(outputs) if isinstance(case.expected, tuple) else outputs[0]

    out = [1.0, float("nan"), shaped([np.ones_like(e) for e in expected]),
           shaped([np.full_like(e, np.nan) for e in expected])]
    for value in inputs(case.args):
        out.append(value)
        for k, e in enumerate(expected):
            if substitute and np.shape(value) == e.shape:
                out.append(shaped([value if j == k else x for j, x in enumerate(expected)]))
    return out


def zero_answers(case: TaskCase) -> list:
    expected = case.expected if isinstance(case.expected, tuple) else (case.expected,)
    zeros = [np.zeros_like(e) for e in expected]
    return [0.0, tuple(zeros) if isinstance(case.expected, tuple) else zeros[0]]


# -- the tasks and their cases ----------------------------------------------------------

def test_the_three_tasks_are_registered_and_declare_the_protocol():
    assert TASKS["vector_gate_gradients"] is GateGradients
    assert TASKS["vector_step_backward"] is StepBackward
    assert TASKS["vector_weight_gradients"] is WeightGradients
    for task in (GateGradients, StepBackward, WeightGradients):
        assert task.phrases == {}
    assert not GateGradients.supports_gradcheck and StepBackward.supports_gradcheck
    assert WeightGradients.regimes == ("ordinary", "saturated", "stability", "extreme")


def test_unknown_weights_and_mismatched_outputs_are_refused():
    with pytest.raises(ValueError, match="unknown weights"):
        WeightGradients(weights=["W_hz"])
    with pytest.raises(ValueError, match="outputs names 3"):
        GateGradients(outputs=("a", "b", "c"))


@pytest.mark.parametrize("qid,regime", QUESTIONS)
def test_cases_carry_label_cost_and_named_dropped_paths(qid, regime):
    for case in all_cases(qid, regime)[:2]:
        assert isinstance(case, TaskCase)
        assert case.label.endswith(NOTES[regime]) and ("gates" in case.label) == (regime != "ordinary")
        if qid == "q1":
            assert case.dropped == () and case.cost == 1
        elif qid == "q2":
            assert case.cost == 1 and [d for d, _ in case.dropped] == [
                f"∇h_{{t-1}} ignores the path through {gate}" for gate in
                ("the forget gate f_t", "the input gate i_t", "the output gate o_t")]
        else:
            T = len(case.args[1])
            assert case.cost == T and (T == STABILITY_T) == (regime == "stability")
            assert case.label.startswith(f"T = {T}, n = {len(case.args[2])}")
            assert [d for d, _ in case.dropped] == [exact.DROPS["C_next"], exact.DROPS["gates_next"]]


def test_one_weight_is_a_bare_matrix():
    case = all_cases("q4", "ordinary")[0]
    n = case.args[2].shape[0]
    assert case.expected.shape == case.magnitude.shape == (n, n)
    assert all(value.shape == (n, n) for _, value in case.dropped)


# -- the NumPy reference is the independent oracle ----------------------------------------

@pytest.mark.parametrize("qid,regime", QUESTIONS)
def test_expected_values_agree_with_the_numpy_reference_and_it_passes_the_graded_tolerance(qid, regime):
    """The NumPy reference (σ' from the pre-activation) is within ε·magnitude + 1e-12
    relative of the exact values at every case, and so passes rtol 1e-9, κ 256."""
    task, _, _ = task_of(qid)
    for case in all_cases(qid, regime):
        got = numpy_answer(task, case.args)
        assert not beyond_bound(got, case, Tolerance(rtol=1e-12, kappa=1.0)), case.label
        assert passes(got, case), case.label


@pytest.mark.parametrize("regime", GateGradients.regimes)
def test_gate_gradients_of_given_floats_are_their_correctly_rounded_products(regime):
    """C_prev∇C, C̃∇C, i∇C are one float64 product each, correctly rounded: bit for bit."""
    for case in all_cases("q1", regime):
        grad_h, grad_C, C, C_prev, i, Ct = case.args
        for got, want in zip(case.expected[1:], (C_prev * grad_C, Ct * grad_C, i * grad_C)):
            assert np.array_equal(got, want)
        assert all(np.array_equal(m, np.abs(e)) for m, e in zip(case.magnitude, case.expected))


@pytest.mark.parametrize("regime", StepBackward.regimes)
def test_the_step_cache_is_a_forward_step_from_the_given_state(regime):
    """The cache's gates and C_t are what the NumPy forward makes of (x_t, h_{t-1}, C_{t-1})."""
    for grad_h, grad_C, cache, weights in (c.args for c in all_cases("q2", regime)):
        trace = lstm_forward(numeric_params(weights), cache["x"][None], cache["h_prev"], cache["C_prev"])
        for key in ("f", "i", "o", "Ct", "C"):
            np.testing.assert_allclose(cache[key], getattr(trace, key)[0], rtol=1e-14, atol=1e-300)


# -- correct float64 code passes, wrong answers fail ---------------------------------------

@pytest.mark.parametrize("qid,regime", [(q, r) for q, r in QUESTIONS if q != "q1"])
def test_a_value_form_float64_answer_passes_every_regime(qid, regime):
    """σ' from rounded gate values loses all relative accuracy at saturation; the
    magnitude must absorb that, here and over 1,000 steps."""
    task, _, _ = task_of(qid)
    for case in all_cases(qid, regime):
        assert passes(value_form_answer(task, case.args), case), case.label


@pytest.mark.parametrize("qid,regime", [(q, r) for q, r in QUESTIONS if r in ("ordinary", "stability")])
def test_trivial_answers_inputs_and_every_dropped_path_fail_at_every_case(qid, regime):
    """0, 1, NaN, zeros, ones, each input (whole, or in place of an output of its shape)
    and each answer with a path dropped fail; none equals the expected value."""
    for case in all_cases(qid, regime):
        for answer in nonsense(case) + zero_answers(case) + [value for _, value in case.dropped]:
            assert fails(answer, case), case.label
        for _, value in case.dropped:
            pairs = zip(value, case.expected) if isinstance(value, tuple) else [(value, case.expected)]
            assert not all(np.array_equal(a, b) for a, b in pairs)


@pytest.mark.parametrize("qid,regime", [(q, r) for q, r in QUESTIONS if r in ("saturated", "extreme")])
def test_at_saturation_nonsense_fails_at_every_case(qid, regime):
    """1, NaN, ones and the inputs returned whole fail at every saturated case. (Zeros,
    the dropped paths and an input in place of an output need not: products of
    σ'(z) ≈ e^-|z| are often below what a correct value-form answer gets right, and
    a gate at 1 makes ∇i_t = C̃_t ∇C_t equal ∇C_t to float64 precision. These regimes
    probe numerics; ordinary inputs decide whether a formula is right.)"""
    for case in all_cases(qid, regime):
        for answer in nonsense(case, substitute=False):
            assert fails(answer, case), case.label


@pytest.mark.parametrize("qid", ["q2", "q3", "q4"])
def test_the_dropped_paths_still_fail_at_some_saturated_cases(qid):
    chosen = all_cases(qid, "saturated")
    for k, (description, _) in enumerate(chosen[0].dropped):
        assert any(fails(case.dropped[k][1], case) for case in chosen), description


def test_dropping_the_cell_carry_in_float64_code_fails_every_ordinary_and_stability_case():
    for regime in ("ordinary", "stability"):
        for case in all_cases("q3", regime):
            assert fails(value_form_bptt(*case.args, carry=False), case), case.label


def test_the_stability_tolerance_stays_far_below_the_answer():
    """Counting σ' as f(1+f) along the whole recurrence would grow the scale like 2^T
    (1e45 at T = 1000) and pass anything. Carried with the true slopes, the absolute
    part of the tolerance stays under 1e-4 of every weight's gradient."""
    for case in all_cases("q3", "stability"):
        for name, e, m in zip(HOMEWORK_NAMES, case.expected, case.magnitude):
            assert TOL.bound(0.0, np.linalg.norm(m)) < 1e-4 * np.linalg.norm(e), name


@pytest.mark.parametrize("regime", StepBackward.regimes)
def test_sigma_prime_written_as_sigma_fails_one_step(regime):
    for case in all_cases("q2", regime):
        assert fails(value_form_step(*case.args, slope=lambda a: a), case), case.label


# -- finite differences -------------------------------------------------------------------

def exact_gradient(task, args) -> list:
    """The exact answer as Fractions, per output (nested lists), far below float64's rounding."""
    if isinstance(task, StepBackward):
        fx = Fixed(task._precision(args).bits + 128)
        _, grads, _ = task._step(args, fx)
        values = [grads.grad_h0, grads.grad_C0] + [grads.params[TO_NUMERIC[w]] for w in GATE_WEIGHTS]
    else:
        weights, x, h0, C0, grad_y = args
        fx = Fixed(task.precision(args).bits + 128)
        names = [TO_NUMERIC[w] for w in task.weights]
        grads = exact.backward(weights, exact.forward(weights, x, h0, C0, fx), grad_y, names=names)
        values = [grads.params[name] for name in names]
    return [_fractions(fx, v) for v in values]


def _fractions(fx, value):
    return [_fractions(fx, v) for v in value] if isinstance(value, list) else fx.exact(value)


def _flat(value):
    return [a for v in value for a in _flat(v)] if isinstance(value, list) else [value]


FD_CASES = [("q4", "ordinary", None), ("q4", "saturated", 2), ("q4", "extreme", 1), ("q3", "ordinary", 2),
            ("q2", "ordinary", None), ("q2", "saturated", 2)]


@pytest.mark.parametrize("qid,regime,count", FD_CASES)
def test_finite_differences_are_within_1e20_of_the_exact_gradient(qid, regime, count):
    """The gradcheck oracle is far more exact than any tolerance: central differences of
    the exact forward pass within 1e-20·(‖e‖ + ‖magnitude‖) of the exact gradient, per
    output, at the pack's gradcheck cases (q2, q4) and others; rounded, each entry is the
    expected float64 value or its neighbour."""
    task, name, options = task_of(qid)
    if regime == "ordinary" and count is None:       # the gradcheck cases themselves
        gradcheck = seed_for("lstm_vector", load_assignment(PACK).seed, qid, "gradcheck")
        chosen = [c for q, n, o, r, seed, k in graded() if q == qid and seed == gradcheck
                  for c in cases(n, o, r, seed, k)]
        assert chosen
    else:
        chosen = all_cases(qid, regime)[-count:]
    outputs = ("h_prev", "C_prev", *GATE_WEIGHTS) if qid == "q2" else task.weights
    for case in chosen:
        diffs = task.differences(case.args)
        expected = case.expected if isinstance(case.expected, tuple) else (case.expected,)
        magnitude = case.magnitude if isinstance(case.magnitude, tuple) else (case.magnitude,)
        for out, truth, e, m in zip(outputs, exact_gradient(task, case.args), expected, magnitude):
            fd, truth = _flat(diffs[out]), _flat(truth)
            error = sum((a - b) ** 2 for a, b in zip(fd, truth))
            scale = sum(b ** 2 for b in truth) + sum(Fraction(float(v)) ** 2 for v in np.ravel(m))
            assert error <= Fraction(1, 10 ** 40) * scale, (case.label, out)
            rounded = np.array([float(v) for v in fd]).reshape(e.shape)
            assert np.all((rounded == e) | (rounded == np.nextafter(e, np.inf)) | (rounded == np.nextafter(e, -np.inf)))
        got = task.finite_difference(case.args)
        assert all(np.allclose(a, b, rtol=1e-15, atol=0) for a, b in zip(got if isinstance(got, tuple) else (got,), expected))


# -- bit-reproducibility --------------------------------------------------------------

DIGEST = '''
import hashlib
import numpy as np
from grader.tasks import TASKS

def feed(h, value):
    if isinstance(value, dict):
        for key in sorted(value):
            h.update(key.encode())
            feed(h, value[key])
    elif isinstance(value, (tuple, list)):
        for item in value:
            feed(h, item)
    elif isinstance(value, str):
        h.update(value.encode())
    else:
        h.update(np.asarray(value, dtype=np.float64).tobytes())

def digest(make):
    h = hashlib.sha256()
    for name, regimes in SPEC:
        for regime in regimes:
            for case in make(name, regime):
                feed(h, (case.args, case.expected, case.magnitude, case.dropped, case.label, case.cost))
    return h.hexdigest()
'''
SPEC = [("vector_gate_gradients", GateGradients.regimes), ("vector_step_backward", StepBackward.regimes),
        ("vector_weight_gradients", WeightGradients.regimes)]
DISABLED = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR AVX2 FMA3"


def test_cases_are_bit_identical_without_avx_and_fma():
    """Case generation in a child whose NumPy may not use AVX2, AVX-512 or FMA (its
    exp, tanh and BLAS then round differently) gives byte-identical cases, the
    1,000-step ones included."""
    namespace = {"SPEC": SPEC}
    exec(DIGEST, namespace)
    here = namespace["digest"](lambda name, regime: cases(name, (), regime, 7, 1))
    child = DIGEST + f'''
from numpy._core._multiarray_umath import __cpu_features__
SPEC = {SPEC!r}
print(__cpu_features__.get("AVX2", False), __cpu_features__.get("FMA3", False))
print(digest(lambda name, regime: [TASKS[name]().case(np.random.default_rng(7), regime)]))
'''
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": DISABLED}
    # this NumPy build cannot disable AVX512_SPR (not dispatched): it warns, and disables the rest
    out = subprocess.run([sys.executable, "-W", "ignore::ImportWarning", "-c", child], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    features, there = out.stdout.split("\n")[:2]
    assert features == "False False"
    assert there == here


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
