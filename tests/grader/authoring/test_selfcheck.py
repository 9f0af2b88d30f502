"""The notebook's check()/check_all(): run from the generated setup cell in a fresh
namespace, against the solution, real wrong submissions and broken answers."""
from __future__ import annotations

import contextlib
import copy
import dis
import io
import sys
import time
import types

import numpy as np
import pytest

from grader.authoring import pack_dirs, public_tests
from grader.authoring.publictests import check_cases, encode, is_public, pack, runs_in_notebook
from grader.authoring.selfcheck import _selfcheck
from grader.assignment import ASSIGNMENTS_DIR, load_assignment
from grader.checks.base import lenient_at, tolerance
from grader.compare import PRECISION, Tolerance, compare
from grader.problems import problem_for
from grader.sandbox import wire

PACKS = pack_dirs()
SCALAR_TAIL = ("The autograder also runs hidden tests and the symbolic checks, so passing these does not "
               "guarantee full marks.\n")


def public_count(pack) -> int:
    data = public_tests(load_assignment(pack))
    return sum(len(c["cases"]) for q in data["questions"] if not q["manual"] for c in q["checks"])


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_solution_passes_every_public_test_within_a_few_seconds(pack, kit):
    sc = kit.SelfCheck(kit.setup_cell(pack), kit.solution_answers(pack))
    started = time.perf_counter()
    out = sc.printed("check_all")
    elapsed = time.perf_counter() - started
    assert f"\nAll {public_count(pack)} public tests passed.\n" in out, out
    assert "FAIL" not in out and "first failure" not in out
    assert elapsed < 3.0


def test_a_submission_that_drops_the_next_cell_term_fails_q8_with_inputs_expected_and_actual(kit, scalar_setup):
    sc = kit.SelfCheck(scalar_setup, kit.submission_answers(kit.SCALAR / "examples" / "dropped_next_cell_term.ipynb"))
    out = sc.printed("check_all").splitlines()
    first = ("numeric (ordinary) test 1/10: returned a wrong value; for o_t=0.679595, C_t=0.204996, grad_h_t=-0.668213, "
             "f_next=0.366414, grad_C_next=1.0619 the expected value is -0.04645689729, yours is -0.4355532694")
    assert out[7] == "q8  grad_C_t         0 of 10 public tests passed; first failure: " + first
    assert out[6] == "q7  grad_h_t         10 of 10 public tests passed"
    assert out[-2] == '122 of 132 public tests passed; failing: q8. Run check("q8") for details.'
    assert out[-1] == SCALAR_TAIL.rstrip("\n")
    detail = sc.printed("check", "q8").splitlines()
    assert detail[0] == "q8 grad_C_t: ∇C_t for t < T, through h_t and C_{t+1}"
    assert detail[1] == "  FAIL  " + first
    assert len([line for line in detail if line.startswith("  FAIL  numeric (ordinary) test ")]) == 10
    assert detail[-2:] == ["  0 of 10 public tests passed",
                           "  not run here: symbolic (checked only by the autograder), 1 hidden check"]


def test_the_unanswered_student_notebook_reports_every_question_as_not_written(kit, scalar_setup):
    stubs = kit.submission_answers(kit.SCALAR / "lstm_scalar.ipynb")
    sc = kit.SelfCheck(scalar_setup, stubs)
    out = sc.printed("check_all").splitlines()
    assert out[0] == "q1  grad_h_T         not written yet"
    assert out[14] == "q15                  graded by hand"
    assert out[15] == ("0 of 132 public tests passed; failing: q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, "
                       "q13, q14. Run check(\"q1\") for details.")
    assert sc.printed("check", "q13").splitlines() == [
        "q13 grad_W_hi: ∇W^hi summed over a whole sequence by BPTT",
        "  FAIL  grad_W_hi is not written yet (it still raises NotImplementedError)",
        "  not run here: 3 hidden checks"]


def test_check_accepts_a_bare_number_names_unknown_questions_and_manual_ones(kit, scalar_setup):
    sc = kit.SelfCheck(scalar_setup, kit.solution_answers(kit.SCALAR))
    assert sc.printed("check", 3) == sc.printed("check", "q3")
    assert sc.printed("check", "q3").splitlines()[1] == "  ok    numeric (ordinary) test 1/10"
    assert sc.printed("check", "q99") == ("there is no question 'q99'; the questions are q1, q2, q3, q4, q5, q6, q7, "
                                          "q8, q9, q10, q11, q12, q13, q14, q15\n")
    assert sc.printed("check", "q15") == ("q15: Why the gradient neither explodes nor vanishes when f ≈ 1 and "
                                          "i ≈ 0\n"
                                          "  graded by hand: there are no tests to run\n")


BROKEN = [
    ("def grad_h_T(W_y, y_T, grad_y_T):\n    return W_y / 0\n",
     "raised ZeroDivisionError: float division by zero (in grad_h_T, line 2)"),
    ("import sys\ndef grad_h_T(W_y, y_T, grad_y_T):\n    sys.exit(3)\n",
     "raised SystemExit: 3 (in grad_h_T, line 3)"),
    ("def grad_h_T(W_y, y_T, grad_y_T):\n    pass\n",
     "returned None (is a `return` statement missing?), but a real number was expected"),
    ("def grad_h_T(W_y, y_T, grad_y_T):\n    return [W_y]\n",
     "returned a list of length 1, but a real number was expected"),
    ("def grad_h_T(W_y, y_T, grad_y_T):\n    return float('nan')\n", "returned nan"),
    ("def grad_h_T(W_y, y_T, grad_y_T):\n    return W_y * np.exp(1000.0)\n",
     "raised a numerical warning (RuntimeWarning: overflow encountered in exp): compute it in a numerically "
     "stable way"),
]


@pytest.mark.parametrize("source, reason", BROKEN, ids=["raises", "exits", "no-return", "list", "nan", "overflow"])
def test_a_broken_answer_is_reported_with_its_reason_and_never_crashes_the_check(kit, scalar_setup, source, reason):
    sc = kit.SelfCheck(scalar_setup, [source])
    lines = sc.printed("check", "q1").splitlines()
    assert lines[1] == f"  FAIL  numeric (ordinary) test 1/10: {reason}"
    assert lines[-2] == "  0 of 10 public tests passed"


@pytest.mark.parametrize("source, reason", [
    ("def grad_hT(W_y, y_T, grad_y_T):\n    return 0.0\n",
     "grad_h_T is not defined: run the cell that defines it; did you mean grad_hT? (rename it to grad_h_T)"),
    ("grad_h_T = 0.5\n", "grad_h_T is a float, not a function"),
    ("def grad_h_T(W_y, y_T):\n    return 0.0\n",
     "grad_h_T takes 2 parameter(s) (W_y, y_T) but it must take 3: W_y, y_T, grad_y_T"),
])
def test_a_function_that_cannot_be_called_is_reported_once_in_the_graders_words(kit, scalar_setup, source, reason):
    sc = kit.SelfCheck(scalar_setup, [source])
    assert sc.printed("check", "q1").splitlines()[1:] == [
        f"  FAIL  {reason}", "  not run here: symbolic (checked only by the autograder), 1 hidden check"]
    assert f"q1  grad_h_T         0 of 10 public tests passed; first failure: {reason}" in sc.printed("check_all")


def test_changing_an_input_array_in_place_is_named_when_wrong_and_does_not_spoil_later_tests(kit, scalar_setup):
    # As in the grader: a right value passes whatever it did to its input; a wrong one
    # names the change as a likely cause. Each test gets fresh inputs.
    source = ("calls = []\n"
              "def cell_path_factor(f):\n    calls.append(1)\n    f *= 2.0 if len(calls) == 1 else 1.0\n"
              "    return float(np.prod(f)) if len(calls) <= 2 else float(np.prod(f.copy()))\n")
    sc = kit.SelfCheck(scalar_setup, [source])
    lines = sc.printed("check", "q14").splitlines()
    assert lines[1].startswith("  FAIL  numeric (ordinary) test 1/6: returned a wrong value (it also changed its "
                               "input (f) in place, which may be why) [")
    assert lines[2:7] == ["  ok    numeric (ordinary) test %d/6" % k for k in range(2, 7)]
    assert lines[7] == "  5 of 6 public tests passed"


def test_shadowed_builtins_and_modules_in_the_notebook_do_not_break_the_check(kit):
    pack = kit.SCALAR
    # names the solution itself does not need, each used by the check
    shadows = ("sum = 0\nprint = dict = str = repr = zip = next = None\nisinstance = any = all = None\n"
               "json = numpy = 1\n")
    sc = kit.SelfCheck(kit.setup_cell(pack), kit.solution_answers(pack) + [shadows])
    assert sc.printed("check_all").endswith(f"All 132 public tests passed.\n{SCALAR_TAIL}")


def test_the_runtime_reads_no_global_name_at_all():
    """Everything it uses is a local of _selfcheck, which is what makes the shadowing test hold
    for every name, not only the ones tried above."""
    loads = set()

    def walk(code):
        loads.update(i.argval for i in dis.get_instructions(code) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    walk(_selfcheck.__code__)
    assert loads == set()


def test_the_hint_is_printed_after_a_failure_only(kit, scratch_pack):
    def add_hint(pack):
        toml = pack / "assignment.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace(
            'function = "grad_h_T"\n', 'function = "grad_h_T"\nhint = "y_T is already σ(z): use y_T(1 - y_T)."\n'),
            encoding="utf-8")

    pack = scratch_pack(edit=add_hint)
    setup = kit.setup_cell(pack)
    wrong = kit.SelfCheck(setup, ["def grad_h_T(W_y, y_T, grad_y_T):\n    return W_y * y_T * grad_y_T\n"])
    assert wrong.printed("check", "q1").splitlines()[-1] == "  hint: y_T is already σ(z): use y_T(1 - y_T)."
    right = kit.SelfCheck(setup, kit.solution_answers(pack))
    assert "hint" not in right.printed("check", "q1")


# --- the same verdict as grader/compare.py ----------------------------------------


def returning(value):
    def f(x):
        return value
    return f


def verdicts(expected, magnitude, candidates, outputs=(), strict=False):
    """(notebook verdict line, grader mismatch) for each value a student's function returns."""
    data = {"questions": [{"id": "p", "title": "parity", "function": "f", "functions": ["f"], "manual": False,
                           "params": ["x"],
                           "check_signature": True, "outputs": list(outputs), "hint": "",
                           "autograder_only": [], "hidden": 0,
                           "checks": [{"label": "numeric", "rtol": 1e-9, "kappa": 256.0, "cases": [
                               dict({"args": [1.0], "expected": encode(expected), "magnitude": encode(magnitude),
                                     "label": ""}, **({"strict": True} if strict else {}))]}]}]}
    out = []
    for value in candidates:
        check, _ = _selfcheck({"f": returning(value)}, pack(data))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            check("p")
        line = buf.getvalue().splitlines()[1]
        received = wire.decode(wire.encode(value))  # what the grader sees after the sandbox
        precision = 0.0 if strict else PRECISION
        out.append((line, compare(received, expected, magnitude, Tolerance(), tuple(outputs), precision=precision)))
    return out


def assert_same(pairs):
    for line, mismatch in pairs:
        if mismatch is None:
            assert line == "  ok    numeric test 1/1"
        else:
            assert line.startswith(f"  FAIL  numeric test 1/1: {mismatch.message}"), (line, mismatch)


def test_scalar_verdicts_match_the_grader_at_the_tolerance_edges_and_for_every_wrong_type():
    e, m = 0.5, 2.0
    edge = 1e-9 * e + 256 * np.finfo(float).eps * m
    candidates = [e, e + 0.9 * edge, e + 1.1 * edge, e * (1 + 0.9e-6), e * (1 + 2e-6), e * 1.5, np.float32(0.5),
                  np.array(0.5), np.array([0.5]), np.array([[0.5]]), np.int64(0), [0.5], (0.5,), None, "0.5", True,
                  float("nan"), float("inf"), 0.5 + 0j, np.array([0.5, 0.5])]
    pairs = verdicts(e, m, candidates)
    # past the strict bound but within 1e-6 relative: right, only float64 lost digits
    assert [p[1] is None for p in pairs][:6] == [True, True, True, True, False, False]
    assert pairs[4][0] == ("  FAIL  numeric test 1/1: returned a value off by 2.0e-06 relative: close, but more than "
                           "rounding explains; a term is missing or wrong; for x=1 the expected value is 0.5, yours is 0.500001")
    assert_same(pairs)
    # where the grader grants no leniency (a known wrong answer is that close), neither does the notebook
    strict = verdicts(e, m, candidates[:6], strict=True)
    assert [p[1] is None for p in strict] == [True, True, False, False, False, False]
    assert_same(strict)


def test_array_and_tuple_verdicts_match_the_grader_naming_the_output_that_is_wrong():
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    expected, magnitude = (w, 1.5), (np.abs(w), 1.5)
    candidates = [(w.copy(), 1.5), [w.tolist(), 1.5], (w + 0.5, 1.5), (w, 1.6), (w * (1 + 1e-5), 1.5), (w[0], 1.5),
                  (w, "x"), (w,), (w.astype(complex), 1.5), (np.where(w > 0, np.inf, w), 1.5), w,
                  (w.astype(np.float32), 1.5), (w * (1 + 5e-7), 1.5), (w.reshape(1, 2, 2), 1.5), (w.reshape(4), 1.5)]
    pairs = verdicts(expected, magnitude, candidates, outputs=("dW", "db"))
    assert [p[1] is None for p in pairs][:4] == [True, True, False, False]
    assert pairs[2][0] == "  FAIL  numeric test 1/1: dW: returned wrong values"
    assert pairs[3][0] == "  FAIL  numeric test 1/1: db: returned a wrong value"
    assert pairs[4][0] == ("  FAIL  numeric test 1/1: dW: returned values off by 1.0e-05 relative: close, but more "
                           "than rounding explains; a term is missing or wrong")
    # within the precision band, and axes of size 1 only: graded as right, as by the grader
    assert [p[1] is None for p in pairs][-3:] == [True, True, False]
    assert_same(pairs)


# --- where a wrong array is wrong, in the grader's words -----------------------------

PACKED = ASSIGNMENTS_DIR / "lstm_packed"


def graders_lines(namespace: dict, question_id: str) -> list[str]:
    """The test lines check(question_id) prints, written from the grader's side: the
    pack's public cases built by the grader's own check classes, the student's driver
    called from the notebook's namespace, its value sent through the sandbox's wire
    format, and grader.compare.compare given the task's own layouts (not the ones
    embedded in the notebook, so layouts that fail to travel are caught)."""
    assignment = load_assignment(PACKED)
    question = assignment.question(question_id)
    problem = problem_for(assignment, question)
    outputs = tuple(question.option("outputs", ()))
    lines = []
    for spec in question.checks:
        if not (is_public(spec) and runs_in_notebook(spec)):
            continue
        tol = tolerance(spec)
        cases = check_cases(assignment, question, spec)
        for k, case in enumerate(cases, 1):
            value = wire.decode(wire.encode(namespace[question.function](*copy.deepcopy(case.args))))
            bad = compare(value, case.expected, case.magnitude, tol, outputs, layouts=problem.layouts,
                          precision=PRECISION if lenient_at(case, tol) else 0.0)
            head = f"{spec.label} test {k}/{len(cases)}"
            lines.append(f"  ok    {head}" if bad is None else f"  FAIL  {head}: {bad.message} [{case.label}]")
    return lines


@pytest.mark.parametrize("example, question, first", [
    # the backward stacks the gate gradients as i, f, g, o: the o and g blocks of every weight are wrong
    ("gate_order_in_backward.ipynb", "q2",
     "  FAIL  numeric (ordinary) test 1/4: dx: returned wrong values; dprev_h: returned wrong values; "
     "dWx: returned wrong values (in the o, g gate blocks only); dWh: returned wrong values (in the o, g gate "
     "blocks only); db: returned wrong values (in the o, g gate blocks only) [N = 2, D = 3, H = 4]"),
    # tanh'(next_c) as 1 - tanh(next_c) spoils dc, hence every gate but o
    ("tanh_prime_as_one_minus_tanh.ipynb", "q2",
     "  FAIL  numeric (ordinary) test 1/4: dx: returned wrong values; dprev_h: returned wrong values; "
     "dprev_c: returned wrong values; dWx: returned wrong values (in the i, f, g gate blocks only); "
     "dWh: returned wrong values (in the i, f, g gate blocks only); db: returned wrong values (in the i, f, g "
     "gate blocks only) [N = 2, D = 3, H = 4]"),
    # dprev_c not carried back: dx is right at the last step only, wrong from step 1
    ("no_cell_carry.ipynb", "q4",
     "  FAIL  numeric (ordinary) test 1/3: dx: returned wrong values (first at time step 1 of 4); "
     "dh0: returned wrong values; dWx: returned wrong values; dWh: returned wrong values; "
     "db: returned wrong values [T = 4, N = 3, D = 5, H = 2]"),
], ids=["gate-order", "tanh-prime", "no-cell-carry"])
def test_check_names_the_wrong_gate_block_or_time_step_exactly_as_the_grader_does(kit, example, question, first):
    sc = kit.SelfCheck(kit.setup_cell(PACKED), kit.submission_answers(PACKED / "examples" / example))
    printed = [line for line in sc.printed("check", question).splitlines() if line.startswith(("  ok", "  FAIL"))]
    assert printed[0] == first
    assert printed == graders_lines(sc.ns, question)


def custom(namespace: dict, hidden: int = 0, elsewhere=(), functions=("driver",)) -> tuple:
    """check and check_all over one made-up question whose function is `driver`."""
    data = {"questions": [{"id": "d1", "title": "made up", "function": "driver", "functions": list(functions),
                           "manual": False, "params": ["x"],
                           "check_signature": True, "outputs": [], "hint": "", "autograder_only": list(elsewhere),
                           "hidden": hidden,
                           "checks": [{"label": "numeric", "rtol": 1e-9, "kappa": 256.0, "cases": [
                               {"args": [2.0], "expected": 4.0, "magnitude": 4.0, "label": ""}]}]}]}
    return _selfcheck(dict(namespace), pack(data))


def printed(fn, *args) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        fn(*args)
    return buf.getvalue()


def test_an_unwritten_function_behind_a_helper_driver_is_named_not_the_driver():
    def inner(x):
        raise NotImplementedError("write your answer here")

    def driver(x):
        return inner(x) * 2

    check, check_all = custom({"inner": inner, "driver": driver})
    message = "inner is not written yet (it still raises NotImplementedError)"
    assert printed(check, "d1").splitlines()[1] == "  FAIL  " + message
    assert printed(check_all).splitlines()[0] == "d1 driver " + message
    # with `requires`, the student's function is the one listed, and "not written yet" is about it
    check, check_all = custom({"inner": inner, "driver": driver}, functions=["inner"])
    assert printed(check, "d1").splitlines()[0] == "d1 inner: made up"
    assert printed(check_all).splitlines()[0] == "d1 inner not written yet"
    check, _ = custom({"driver": driver}, functions=["inner"])
    assert printed(check, "d1").splitlines()[1] == "  FAIL  inner is not defined: run the cell that defines it"


def test_check_all_lists_the_functions_students_write_not_the_packs_drivers(kit):
    pack = kit.SCALAR.parent / "lstm_packed"
    setup = kit.setup_cell(pack)
    stubs = kit.SelfCheck(setup, kit.submission_answers(pack / "lstm_packed.ipynb")).printed("check_all")
    assert stubs.splitlines()[:5] == [
        "q1 lstm_step_forward                     not written yet",
        "q2 lstm_step_forward, lstm_step_backward lstm_step_forward is not written yet (it still raises "
        "NotImplementedError)",
        "q3 lstm_forward                          not written yet",
        "q4 lstm_forward, lstm_backward           lstm_forward is not written yet (it still raises "
        "NotImplementedError)",
        "q5                                       graded by hand"]
    half = kit.SelfCheck(setup, kit.solution_answers(pack) + [
        "def lstm_step_backward(dnext_h, dnext_c, cache):\n    raise NotImplementedError\n"])
    detail = half.printed("check", "q2").splitlines()
    assert detail[:2] == ["q2 lstm_step_forward, lstm_step_backward: lstm_step_backward: one step",
                          "  FAIL  lstm_step_backward is not written yet (it still raises NotImplementedError)"]
    assert detail[-1].startswith("  hint: ")


def test_the_closing_line_names_only_what_the_autograder_really_runs_besides():
    def driver(x):
        return x * x

    assert printed(custom({"driver": driver})[1]).splitlines()[-2:] == [
        "All 1 public tests passed.", "These are all the autograder's tests."]
    assert printed(custom({"driver": driver}, hidden=2, elsewhere=["symbolic"])[1]).splitlines()[-1] == (
        "The autograder also runs hidden tests and the symbolic checks, so passing these does not guarantee full "
        "marks.")


# --- in Jupyter: the same verdicts as coloured HTML ---------------------------------


def fake_ipython(monkeypatch, shell_class: str) -> list:
    """IPython as a kernel (or a terminal) would have it loaded; what display() got."""
    shown = []
    shell = type(shell_class, (), {})()
    ipython, display = types.ModuleType("IPython"), types.ModuleType("IPython.display")
    ipython.get_ipython = lambda: shell
    display.display = lambda obj, raw=False: shown.append((obj, raw))
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_in_a_jupyter_kernel_check_shows_coloured_html_with_the_graders_diagnosis(kit, scalar_setup, monkeypatch):
    answers = kit.submission_answers(kit.SCALAR / "examples" / "dropped_next_cell_term.ipynb")
    sc = kit.SelfCheck(scalar_setup, answers + ['def grad_h_T(W_y, y_T, grad_y_T):\n    return W_y\n'])
    text = {name: sc.printed(*name) for name in [("check", "q8"), ("check_all",), ("check", "q15")]}
    shown = fake_ipython(monkeypatch, "ZMQInteractiveShell")
    for name, plain in text.items():
        assert sc.printed(*name) == ""  # displayed, not printed
        bundle, raw = shown.pop(0)
        assert raw is True and bundle["text/plain"] == plain.rstrip("\n")  # the console's view is the text
        markup = bundle["text/html"]
        assert markup.startswith("<div") and markup.endswith("</div>") and "<script" not in markup
        if name == ("check", "q8"):
            assert "<b>q8</b> <code>grad_C_t</code>: ∇C_t for t &lt; T, through h_t and C_{t+1}" in markup
            assert markup.count(">FAIL</span>") == 10 and "#cf222e" in markup  # red
            assert "returned a wrong value; for o_t=0.679595" in markup
            assert "0 of 10 public tests passed" in markup and "1 hidden check" in markup
        elif name == ("check_all",):
            assert markup.count("<tr>") == 15 and "<code>grad_W_hi</code>" in markup
            assert "#1a7f37" in markup and ">10/10</span>" in markup  # green for q2..q7
            assert "first failure: numeric (ordinary) test 1/10: returned a wrong value" in markup
            assert "failing: q1, q8. Run check(&quot;q1&quot;) for details." in markup
        else:
            assert "graded by hand" in markup


def test_the_hint_is_a_box_in_the_html_too(kit, scratch_pack, monkeypatch):
    def add_hint(pack):
        toml = pack / "assignment.toml"
        toml.write_text(toml.read_text(encoding="utf-8").replace(
            'function = "grad_h_T"\n', 'function = "grad_h_T"\nhint = "y_T is already σ(z) <not z>."\n'),
            encoding="utf-8")

    sc = kit.SelfCheck(kit.setup_cell(scratch_pack(edit=add_hint)), ["def grad_h_T(W_y, y_T, grad_y_T):\n    return 0.0\n"])
    shown = fake_ipython(monkeypatch, "ZMQInteractiveShell")
    sc.printed("check", "q1")
    assert "<b>Hint:</b> y_T is already σ(z) &lt;not z&gt;.</div>" in shown[0][0]["text/html"]


def test_a_terminal_ipython_or_no_ipython_gets_plain_text(kit, scalar_setup, monkeypatch):
    sc = kit.SelfCheck(scalar_setup, [])
    plain = sc.printed("check", "q1")
    assert plain.startswith("q1 grad_h_T: ") and "FAIL" in plain
    shown = fake_ipython(monkeypatch, "TerminalInteractiveShell")
    assert sc.printed("check", "q1") == plain and shown == []
