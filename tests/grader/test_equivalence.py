"""The staged equivalence decision, stage by stage."""
import sympy as sp

from grader import load_assignment
from grader.equivalence import decide
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
