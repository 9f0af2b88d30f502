"""The staged equivalence decision, stage by stage."""
import sympy as sp

from grader import load_assignment
from grader.equivalence import Decision, decide
from grader.problems import problem_for
from grader.timebox import timeboxed_predicate


def _problem(qid):
    a = load_assignment("lstm_scalar")
    return problem_for(a, a.question(qid))


def _sym(problem, name):
    return problem.student_symbols()[name]


def test_a_factored_answer_is_settled_by_expansion():
    p = _problem("q8")
    o, C, gh, f, gC = (_sym(p, n) for n in ("o_t", "C_t", "grad_h_t", "f_next", "grad_C_next"))
    answer = gh * o * (1 - sp.tanh(C)) * (1 + sp.tanh(C)) + gC * f
    assert decide(p, answer).method == "identical to the reference after expansion"


def test_a_sech_squared_answer_is_settled_by_rewriting_with_exponentials():
    p = _problem("q8")
    o, C, gh, f, gC = (_sym(p, n) for n in ("o_t", "C_t", "grad_h_t", "f_next", "grad_C_next"))
    answer = (o * 4 / (sp.exp(C) + sp.exp(-C)) ** 2 * gh + f * gC)
    decision = decide(p, answer)
    assert decision.equal and decision.method == "identical to the reference once written with exponentials and simplified"


def test_when_algebra_runs_out_of_time_random_identity_testing_decides():
    p = _problem("q8")
    o, C, gh, f, gC = (_sym(p, n) for n in ("o_t", "C_t", "grad_h_t", "f_next", "grad_C_next"))
    answer = o * 4 / (sp.exp(C) + sp.exp(-C)) ** 2 * gh + f * gC
    decision = decide(p, answer, simplify_seconds=0.0)
    assert decision.equal and decision.method.startswith("agrees with the reference to 1e-12 at 50 random points")


def test_a_wrong_answer_is_settled_by_a_probe_and_returns_a_witness():
    p = _problem("q8")
    o, C, gh = (_sym(p, n) for n in ("o_t", "C_t", "grad_h_t"))
    decision = decide(p, o * (1 - sp.tanh(C) ** 2) * gh)
    assert not decision.equal and decision.method == "differs from the reference at a random point"
    assert len(decision.witness) == 5


def test_the_timebox_answers_and_gives_up():
    assert timeboxed_predicate(lambda: True, 5.0) is True
    assert timeboxed_predicate(lambda: False, 5.0) is False
    assert timeboxed_predicate(lambda: 1 / 0, 5.0) is None

    def forever():
        while True:
            pass

    assert timeboxed_predicate(forever, 0.3) is None


def _huge_power(p):
    """(o_t + C_t + grad_h_t + f_next + grad_C_next + 1)**40 as the student's tree:
    1.2 million terms once expanded, a few microseconds to evaluate at a point."""
    from grader.problems import SYMPY_FUNCTIONS
    from grader.sandbox import to_sympy

    names = sorted(p.student_symbols())
    tree = ["Pow", ["Add", *[["Symbol", n] for n in names], ["Integer", 1]], ["Integer", 40]]
    return to_sympy(tree, p.student_symbols(), SYMPY_FUNCTIONS)


def test_an_enormous_expansion_is_given_up_in_a_fork_and_the_probe_decides():
    import resource
    import time

    p = _problem("q8")
    answer = _huge_power(p)
    assert answer.func is sp.Pow  # rebuilt unevaluated
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    decision = decide(p, answer, expand_seconds=2.0)
    elapsed = time.monotonic() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert (decision.equal, decision.method, decision.undecided) == (
        False, "differs from the reference at a random point", False)
    assert len(decision.witness) == 5
    assert elapsed < 2.0 + 10.0
    assert grown_mb < 200


def test_an_expression_no_stage_can_afford_is_undecided_not_guessed(monkeypatch):
    from grader import equivalence

    # Evaluating at a point runs out of memory (in the fork, which inherits this patch).
    monkeypatch.setattr(equivalence, "_gap", lambda *args: len(bytearray(8 << 30)))
    p = _problem("q8")
    decision = decide(p, _huge_power(p), 0.5, expand_seconds=1.0, memory_bytes=256 << 20)
    assert decision == Decision(
        False, "could not be compared with the reference: evaluating it at 50 points needed more "
               "than 30 s or 256 MB; write it in a simpler form", (), undecided=True)


def test_the_timebox_returns_plain_data_and_gives_up_on_memory_and_size():
    from grader.timebox import RESULT_BYTES, timeboxed

    assert timeboxed(lambda: [1, 2.5, "x", None, {"k": True}], 5.0) == [1, 2.5, "x", None, {"k": True}]
    assert timeboxed(lambda: None, 5.0) is None
    assert timeboxed(lambda: len(bytearray(8 << 30)), 10.0, memory_bytes=256 << 20) is None
    assert timeboxed(lambda: len(bytearray(1 << 20)), 10.0, memory_bytes=256 << 20) == 1 << 20
    assert timeboxed(lambda: "x" * RESULT_BYTES, 10.0) is None
    assert timeboxed_predicate(lambda: len(bytearray(8 << 30)) > 0, 10.0, 256 << 20) is None
