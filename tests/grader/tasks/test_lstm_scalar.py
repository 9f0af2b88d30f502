"""The univariate LSTM homework's tasks: exact expected values against the NumPy
reference (the independent oracle) and against exact finite differences, their
tolerances against correct and wrong float64 answers at the cases the pack
actually grades, and bit-reproducibility across NumPy's CPU dispatch."""
from __future__ import annotations

import os
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
from grader.tasks.lstm_scalar import CellPathFactor, LSTMWeightGradient, numeric_params
from reference.exact import lstm as exact
from reference.exact.fixed import Fixed
from reference.numeric.lstm import lstm_backward, lstm_forward

ROOT = Path(__file__).resolve().parents[3]
TOL = Tolerance()                        # what the pack grades with: rtol 1e-9, κ = 256
EXTRA_SEEDS = (0, 1, 2)


def graded() -> list[tuple[str, str, tuple, str, int, int]]:
    """(question, task name, options, regime, seed, count) of every case the pack's
    checks grade, seeded as grader/checks seed them."""
    a = load_assignment("lstm_scalar")
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


@lru_cache(maxsize=None)
def cases(name: str, options: tuple, regime: str, seed: int, count: int) -> tuple[TaskCase, ...]:
    rng = np.random.default_rng(seed)
    task = TASKS[name](**dict(options))
    return tuple(task.case(rng, regime) for _ in range(count))


def all_cases(name: str, regime: str, options: tuple = ()):
    """The graded cases of this task and regime, and two more at each of three small seeds."""
    found = [c for _, n, o, r, seed, count in graded() if n == name and r == regime
             for c in cases(n, o, r, seed, count)]
    options = next((o for _, n, o, r, *_ in graded() if n == name), options)
    return found + [c for seed in EXTRA_SEEDS for c in cases(name, options, regime, seed, 2)]


def numpy_answer(args) -> float:
    """∂L/∂W^{hi} by the NumPy reference: a correct float64 answer."""
    weights, x, h0, C0, grad_y = args
    params = numeric_params(weights)
    trace = lstm_forward(params, np.asarray(x)[:, None], np.array([h0]), np.array([C0]))
    return float(lstm_backward(params, trace, np.asarray(grad_y)[:, None]).params.W_hi[0, 0])


def value_form_answer(args) -> float:
    """∂L/∂W^{hi} as a student writes it in float64: σ' as a(1 - a), tanh' as 1 - a²."""
    w, x, h0, C0, grad_y = args

    def sig(z):
        return 1 / (1 + np.exp(-z)) if z >= 0 else np.exp(z) / (1 + np.exp(z))

    h, C, steps = h0, C0, []
    for x_t in x:
        f, i, o = (sig(w[f"W_h{g}"] * h + w[f"W_x{g}"] * x_t + w[f"W_0{g}"]) for g in "fio")
        Ct = np.tanh(w["W_hc"] * h + w["W_xc"] * x_t + w["W_0c"])
        C_new = f * C + i * Ct
        h_new = o * np.tanh(C_new)
        steps.append((h, C, f, i, o, Ct, C_new, sig(w["W_y"] * h_new + w["W_0y"])))
        h, C = h_new, C_new
    total, next_h, next_C = 0.0, 0.0, 0.0
    for t in reversed(range(len(x))):
        h_prev, C_prev, f, i, o, Ct, C, y = steps[t]
        gh = w["W_y"] * y * (1 - y) * grad_y[t] + next_h
        gC = o * (1 - np.tanh(C) ** 2) * gh + next_C
        gz = {"o": o * (1 - o) * np.tanh(C) * gh, "f": f * (1 - f) * C_prev * gC,
              "i": i * (1 - i) * Ct * gC, "c": (1 - Ct ** 2) * i * gC}
        total += gz["i"] * h_prev
        next_h = sum(w[f"W_h{g}"] * gz[g] for g in "fioc")
        next_C = f * gC
    return float(total)


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


# -- the protocol ---------------------------------------------------------------------

def test_the_tasks_are_registered_and_declare_the_protocol():
    assert TASKS["lstm_weight_gradient"] is LSTMWeightGradient
    assert TASKS["cell_path_factor"] is CellPathFactor
    assert LSTMWeightGradient.regimes == ("ordinary", "saturated", "stability", "extreme")
    assert LSTMWeightGradient.supports_gradcheck and not CellPathFactor.supports_gradcheck
    assert LSTMWeightGradient.phrases == {} and "k = 1000" in CellPathFactor.phrases["stability"]
    with pytest.raises(ValueError, match="unknown weight"):
        LSTMWeightGradient("W_hz")


@pytest.mark.parametrize("regime", LSTMWeightGradient.regimes)
def test_a_case_is_a_task_case_with_label_cost_and_named_dropped_paths(regime):
    case = all_cases("lstm_weight_gradient", regime)[0]
    T = len(case.args[1])
    assert isinstance(case, TaskCase) and isinstance(case.expected, float) and isinstance(case.magnitude, float)
    assert case.label == f"T = {T}" + NOTES[regime] and case.cost == T
    assert [d for d, _ in case.dropped] == [exact.DROPS["C_next"], exact.DROPS["gates_next"]]
    assert (T == STABILITY_T) == (regime == "stability")


# -- the NumPy reference is the independent oracle ------------------------------------

@pytest.mark.parametrize("regime", LSTMWeightGradient.regimes)
def test_expected_values_agree_with_the_numpy_reference_and_it_passes_the_graded_tolerance(regime):
    """The NumPy reference (σ' from the pre-activation, so accurate when gates saturate)
    is within ε·magnitude + 1e-12 relative of the exact value, and passes rtol 1e-9, κ 256."""
    for case in all_cases("lstm_weight_gradient", regime):
        got = numpy_answer(case.args)
        assert not beyond_bound(got, case, Tolerance(rtol=1e-12, kappa=1.0)), case.label
        assert passes(got, case), case.label


@pytest.mark.parametrize("regime", LSTMWeightGradient.regimes)
def test_a_value_form_float64_answer_passes_every_regime(regime):
    """i(1 - i) from a rounded i keeps no digits at |z| = 1000 and few at 30; the
    magnitude must absorb that, over 1,000 steps too."""
    for case in all_cases("lstm_weight_gradient", regime):
        assert passes(value_form_answer(case.args), case), case.label


@pytest.mark.parametrize("regime", ["ordinary", "stability"])
def test_trivial_answers_inputs_and_every_dropped_path_fail_at_every_case(regime):
    """0, 1, NaN, each input returned unchanged and the answer with a path dropped all
    fail, and none equals the expected value."""
    for case in all_cases("lstm_weight_gradient", regime):
        weights, x, h0, C0, grad_y = case.args
        wrong = [0.0, 1.0, float("nan"), weights, x, h0, C0, grad_y, weights["W_hi"]]
        for answer in wrong + [value for _, value in case.dropped]:
            assert fails(answer, case), (case.label, answer)
        assert all(value != case.expected for _, value in case.dropped)


@pytest.mark.parametrize("regime", ["saturated", "extreme"])
def test_at_saturation_nonsense_fails_at_every_case(regime):
    """1, NaN and each input fail at every saturated case. (0 and the dropped paths
    need not: the gradient there is a product of σ'(z) ≈ e^-|z|, often below what a
    correct value-form answer gets right (i(1 - i) is 0 once i rounds to 1), so the
    tolerance that accepts that answer accepts them too. These regimes probe
    numerics; ordinary inputs decide whether a formula is right.)"""
    for case in all_cases("lstm_weight_gradient", regime):
        weights, x, h0, C0, grad_y = case.args
        for answer in (1.0, float("nan"), weights, x, h0, C0, grad_y, weights["W_hi"]):
            assert fails(answer, case), (case.label, answer)


def test_the_dropped_paths_still_fail_at_some_saturated_cases():
    chosen = all_cases("lstm_weight_gradient", "saturated")
    for k, (description, _) in enumerate(chosen[0].dropped):
        assert any(fails(case.dropped[k][1], case) for case in chosen), description


def test_the_stability_magnitude_is_far_below_the_answer():
    """The old magnitude carried f(1 + f) through 1,000 steps (2.7e44 against an answer
    of 5.6e-7: `return 0.0` passed). Carried with the true factors, the absolute part of
    the tolerance stays under 1e-4 of the answer at every stability case."""
    for case in all_cases("lstm_weight_gradient", "stability"):
        assert TOL.bound(0.0, case.magnitude) < 1e-4 * abs(case.expected), case.label


# -- finite differences ---------------------------------------------------------------

@pytest.mark.parametrize("regime", LSTMWeightGradient.regimes)
def test_finite_differences_are_within_1e20_of_the_exact_value(regime):
    """The gradcheck oracle is far more exact than any tolerance: central differences
    of the exact forward pass within 1e-20·(|e| + magnitude) of the exact gradient,
    and rounded to the same float64 (or its neighbour)."""
    task = LSTMWeightGradient("W_hi")
    chosen = all_cases("lstm_weight_gradient", regime)
    for case in chosen[:3] if regime == "stability" else chosen:
        weights, x, h0, C0, grad_y = case.args
        fx = Fixed(task.precision(case.args).bits + 128)
        grads = exact.backward(weights, exact.forward(weights, x, h0, C0, fx), grad_y, names=("W_hi",))
        truth = fx.exact(grads.params["W_hi"][0][0])
        fd = task.differences(case.args)["W_hi"]
        assert abs(fd - truth) <= Fraction(1, 10 ** 20) * (abs(truth) + Fraction(case.magnitude)), case.label
        rounded = task.finite_difference(case.args)
        assert rounded in (case.expected, np.nextafter(case.expected, np.inf), np.nextafter(case.expected, -np.inf))


# -- the cell-path factor -------------------------------------------------------------

@pytest.mark.parametrize("regime", CellPathFactor.regimes)
def test_the_cell_path_factor_is_the_exact_product_and_the_float64_one_passes(regime):
    """Expected = ∏f exactly, rounded once; np.prod passes; 0, 1, NaN and f itself fail;
    the stability gates are σ(15 + 0.5 N(0,1)) rounded once."""
    for case in all_cases("cell_path_factor", regime):
        (f,) = case.args
        assert case.expected == float(np.prod([Fraction(v) for v in f]))
        assert case.magnitude == pytest.approx((len(f) - 1) * abs(case.expected), rel=1e-15)
        assert case.dropped == () and case.cost == len(f)
        assert passes(float(np.prod(f)), case)
        for answer in (0.0, 1.0, float("nan"), f):
            assert fails(answer, case), answer
        if regime == "stability":
            assert len(f) == STABILITY_T and np.all((f > 0.999) & (f < 1.0))


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
SPEC = [("lstm_weight_gradient", LSTMWeightGradient.regimes), ("cell_path_factor", CellPathFactor.regimes)]
DISABLED = "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR AVX2 FMA3"


def test_cases_are_bit_identical_without_avx_and_fma():
    """Case generation in a child whose NumPy may not use AVX2, AVX-512 or FMA (its
    exp, tanh and BLAS then round differently) gives byte-identical cases."""
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
