"""The packed-layout LSTM pack: its cases against the NumPy reference and the
exact finite differences, its tolerances against correct and wrong float64
code and against answers that are no work at all, the bit-for-bit
reproducibility of its cases on another CPU's code paths, its drivers, and
the pack itself."""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.tasks import TASKS
from grader.tasks.base import Task, TaskCase
from grader.tasks.lstm_packed import SequenceBackward, SequenceForward, StepBackward, StepForward
from reference.numeric import packed

from .plan import assignment_plan

ROOT = Path(__file__).resolve().parents[3]
PACK = ROOT / "assignments" / "lstm_packed"
EPS = float(np.finfo(np.float64).eps)
RTOL, KAPPA = 1e-9, 256.0          # the numeric and stability checks' tolerance
NAMES = {"packed_step_forward": StepForward, "packed_step_backward": StepBackward,
         "packed_forward": SequenceForward, "packed_backward": SequenceBackward}
EXTRA_SEEDS = (0, 1, 2)


# -- the cases the pack uses, and a few more ---------------------------------------------------

PLAN = [p[1:] for p in assignment_plan(PACK)]
GRADCHECK = [p[1:] for p in assignment_plan(PACK) if p[0] == "gradcheck"]


_DRAWN: dict = {}


def cases(name: str, regime: str, seed: int, count: int) -> tuple[TaskCase, ...]:
    """The first ``count`` cases of a generator seeded with ``seed``, as the grader
    draws them; drawn once per test session (a 1,000-step case takes a second)."""
    rng, made = _DRAWN.setdefault((name, regime, seed), (np.random.default_rng(seed), []))
    while len(made) < count:
        made.append(TASKS[name]().case(rng, regime))
    return tuple(made[:count])


@lru_cache(maxsize=None)
def finite_difference(name: str, seed: int, index: int):
    return TASKS[name].finite_difference(cases(name, "ordinary", seed, index + 1)[index].args)


def all_cases(name: str, regime: str) -> list[TaskCase]:
    """The pack's cases of this task and regime, and for the short regimes those
    of a few seeds more."""
    out = [c for t, r, s, n in PLAN if (t, r) == (name, regime) for c in cases(t, r, s, n)]
    if regime != "stability":
        for seed in EXTRA_SEEDS:
            out.extend(cases(name, regime, seed, 2))
    return out


def first_case(name: str, regime: str) -> tuple[str, str, int, int]:
    """(task, regime, seed, 1): the first case the pack draws, else seed 0's."""
    return next(((t, r, s, 1) for t, r, s, _ in PLAN if (t, r) == (name, regime)), (name, regime, 0, 1))


TASK_REGIMES = [(name, r) for name, cls in NAMES.items() for r in cls.regimes]


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
    got = np.asarray(got, dtype=float)
    if got.shape != np.shape(expected) or not np.all(np.isfinite(got)):
        return False
    return norm(got - expected) <= RTOL * norm(expected) + KAPPA * EPS * norm(magnitude)


def like(expected, value):
    if isinstance(expected, tuple):
        return tuple(like(e, value) for e in expected)
    return np.full(np.shape(expected), value)


def oracle(name: str, args):
    """reference.numeric.packed at the student's arguments."""
    if name == "packed_step_forward":
        return packed.lstm_step_forward(*args)[:2]
    if name == "packed_step_backward":
        return packed.lstm_step_backward(args[6], args[7], packed.lstm_step_forward(*args[:6])[2])
    if name == "packed_forward":
        return packed.lstm_forward(*args)[0]
    return packed.lstm_backward(args[5], packed.lstm_forward(*args[:5])[1])


# -- the tasks ------------------------------------------------------------------------------------

def test_the_four_tasks_are_registered_and_follow_the_task_protocol():
    assert {name: TASKS[name] for name in NAMES} == NAMES
    for cls in NAMES.values():
        # the members of grader.tasks.base.Task (finite_difference with gradcheck only)
        assert set(cls.regimes) <= {"ordinary", "saturated", "stability", "extreme"}
        assert cls.phrases == {} and callable(cls().case)
        assert hasattr(cls, "finite_difference") == cls.supports_gradcheck
    assert isinstance(StepBackward(), Task) and isinstance(SequenceBackward(), Task)


@pytest.mark.parametrize("name,regime", TASK_REGIMES)
def test_every_case_is_the_numpy_reference_within_the_bound(name, regime):
    """The NumPy reference's own float64 answer at the student's arguments passes
    the grader's bound against the exact expected value; at ordinary inputs the
    two agree to 1e-12 outright. Labels, costs and output counts are the task's."""
    for c in all_cases(name, regime):
        reference = oracle(name, c.args)
        reference = tuple(reference) if isinstance(c.expected, tuple) else reference
        assert passes(reference, c.expected, c.magnitude), c.label
        outputs = (reference, c.expected) if isinstance(c.expected, tuple) else ((reference,), (c.expected,))
        assert len(outputs[1]) == NAMES[name].n_outputs
        if regime == "ordinary":
            for r, e in zip(*outputs):
                assert norm(r - e) <= 1e-12 * norm(e)
        x = c.args[0]
        assert c.cost == x.shape[0] * (x.shape[1] if x.ndim == 3 else 1)
        assert c.label.startswith(f"T = {x.shape[1]}, " if x.ndim == 3 else "N = ")


@pytest.mark.parametrize("name,regime", TASK_REGIMES)
def test_answers_that_are_no_work_and_answers_with_a_path_dropped_fail(name, regime):
    """0, 1 and NaN of the expected structure, each argument returned as it came,
    and each listed answer with one path dropped all fail the bound, in every case
    of every regime."""
    for c in all_cases(name, regime):
        trivial = [like(c.expected, 0.0), like(c.expected, 1.0), like(c.expected, np.nan), *c.args]
        if isinstance(c.expected, tuple):      # the arguments in the outputs' places
            trivial.append(tuple(c.args[:len(c.expected)]))
        for answer in trivial:
            assert not passes(answer, c.expected, c.magnitude), c.label
        for what, answer in c.dropped:
            assert not passes(answer, c.expected, c.magnitude), (c.label, what)


@pytest.mark.parametrize("name", list(NAMES))
def test_at_ordinary_inputs_every_dropped_path_is_listed(name):
    """Where nothing saturates, each path the task knows makes a difference."""
    for c in all_cases(name, "ordinary"):
        assert [what for what, _ in c.dropped] == [what for what, _ in NAMES[name].DROPS]


@pytest.mark.parametrize("name", ["packed_step_backward", "packed_backward"])
def test_finite_differences_are_the_expected_gradients_at_every_gradcheck_case(name):
    """The gradcheck oracle (central differences of the exact forward pass alone)
    equals the exact gradient within 1e-20·(|e| + ‖magnitude‖) entry by entry:
    rounded once, the two are the same floats."""
    plan = [p for p in GRADCHECK if p[0] == name]
    assert plan
    for t, r, s, n in plan + ([(name, "ordinary", 0, 2)] if name == "packed_step_backward" else []):
        for index, c in enumerate(cases(t, r, s, n)):
            fd = finite_difference(name, s, index)
            for f, e, m in zip(fd, c.expected, c.magnitude):
                assert f.shape == e.shape
                assert np.all(np.abs(f - e) <= 1e-20 * (np.abs(e) + norm(m))), c.label


def test_the_stability_regime_shuts_the_input_gate_and_opens_the_forget_gate():
    """b[:H] ≈ -15 and b[H:2H] ≈ +15 in the packed i, f, o, g order, over 1,000 steps."""
    for c in all_cases("packed_forward", "stability"):
        x, b, H = c.args[0], c.args[4], c.args[1].shape[1]
        assert x.shape[1] == 1000
        assert np.all(np.abs(b[:H] + 15) < 1) and np.all(np.abs(b[H:2 * H] - 15) < 1)


def test_the_extreme_regime_reaches_a_pre_activation_of_several_hundred():
    biggest = max(float(np.max(np.abs(c.args[4]))) for c in all_cases("packed_forward", "extreme"))
    assert biggest > 200


# -- tolerances: correct float64 code passes, a wrong term fails -----------------------------------

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


def sequence_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    prev_h, prev_c, hs, caches = h0, np.zeros((N, h0.shape[1])), [], []
    for t in range(T):
        prev_h, prev_c, cache = step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        hs.append(prev_h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def sequence_backward(x, h0, Wx, Wh, b, dh, carry=True):
    """Forward then backward over a sequence; carry=False drops dprev_c between steps."""
    _, caches = sequence_forward(x, h0, Wx, Wh, b)
    dx, dWx, dWh, db = np.zeros_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dprev_h, dprev_c = np.zeros_like(h0), np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        dx[:, t], dprev_h, dprev_c, a, w, c = step_backward(dh[:, t] + dprev_h, dprev_c if carry else 0 * dprev_c,
                                                            caches[t])
        dWx, dWh, db = dWx + a, dWh + w, db + c
    return dx, dprev_h, dWx, dWh, db


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "extreme"])
def test_a_correct_step_rounded_differently_passes(regime):
    for c in all_cases("packed_step_forward", regime):
        assert passes(step_forward(*c.args)[:2], c.expected, c.magnitude), c.label
    for c in all_cases("packed_step_backward", regime):
        assert passes(step_backward(*c.args[6:], step_forward(*c.args[:6])[2]), c.expected, c.magnitude), c.label


@pytest.mark.parametrize("regime", ["ordinary", "saturated", "stability", "extreme"])
def test_a_correct_value_form_sequence_passes(regime):
    for c in all_cases("packed_forward", regime):
        assert passes(sequence_forward(*c.args)[0], c.expected, c.magnitude), c.label
    for c in all_cases("packed_backward", regime):
        assert passes(sequence_backward(*c.args), c.expected, c.magnitude), c.label


def test_tanh_prime_written_as_one_minus_tanh_fails_one_step():
    batch = all_cases("packed_step_backward", "ordinary")
    for c in batch:
        wrong = step_backward(*c.args[6:], step_forward(*c.args[:6])[2], tanh_slope=lambda t: 1 - t)
        assert not passes(wrong, c.expected, c.magnitude), c.label


@pytest.mark.parametrize("regime", ["ordinary", "stability"])
def test_dropping_dprev_c_between_steps_fails(regime):
    """Over 1,000 steps with f ≈ 1 the cell carries nearly all of the gradient."""
    for c in all_cases("packed_backward", regime):
        assert not passes(sequence_backward(*c.args, carry=False), c.expected, c.magnitude), c.label


# -- the same numbers on every CPU --------------------------------------------------------------

FINGERPRINT = '''
import hashlib
import numpy as np

def fingerprint(values) -> bytes:
    """repr of every float (and label, and int) of nested cases, in order."""
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


def reproduce(plan, gradcheck, namespace: dict):
    """The fingerprints of ``plan`` computed here and in a child process whose NumPy
    may use none of AVX2, FMA3 and AVX-512 (other exp, tanh and BLAS kernels)."""
    here = [namespace["fingerprint"]([cases(*p) for p in plan]),
            namespace["fingerprint"]([finite_difference(plan[k][0], plan[k][2], 0) for _, k in gradcheck])]
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": DISABLED, "LSTM_GRADER_CACHE": "off",
           "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps([plan, gradcheck])], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    there = json.loads(child.stdout.strip().splitlines()[-1])
    return here, there


def test_cases_are_the_same_bits_without_avx2_fma_or_avx512():
    from numpy._core._multiarray_umath import __cpu_features__

    namespace: dict = {}
    exec(FINGERPRINT, namespace)
    plan, gradcheck = [], []
    for name, regime in TASK_REGIMES:
        grad = next((p for p in GRADCHECK if p[0] == name), None) if regime == "ordinary" else None
        plan.append((name, regime, grad[2], 1) if grad else first_case(name, regime))
        if grad:
            gradcheck.append((name, len(plan) - 1))
    here, there = reproduce(plan, gradcheck, namespace)
    assert there[:2] == here
    if __cpu_features__["AVX2"]:
        assert there[2:] == [False, False]      # the child really ran other code paths


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
    assert {(t, r) for t, r, _, _ in PLAN} >= {("packed_backward", "stability"), ("packed_forward", "stability")}
