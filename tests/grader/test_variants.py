"""Loss seeds, the names an assignment may use, and a new cell from its equation file alone."""
import shutil
from pathlib import Path

import pytest

from grader.assignment import AssignmentError, load_assignment
from grader.grading import grade

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cells"
HEAD = 'cell = "gru.cell"\n[[questions]]\nid = "q1"\nfunction = "f"\npoints = 1\n'
CHECKS = 'checks = ["symbolic", { check = "numeric", regimes = ["ordinary"], points = 4 }]\n'


def _pack(tmp_path, toml: str, cell: str = "gru.cell") -> Path:
    folder = tmp_path / "variant"
    folder.mkdir()
    shutil.copy(FIXTURES / cell, folder / cell)
    (folder / "assignment.toml").write_text(toml, encoding="utf-8")
    return folder


def test_seed_names_the_losss_own_term_of_a_state_that_is_also_the_output(tmp_path):
    a = load_assignment(_pack(tmp_path, HEAD + 'at = "t"\ntarget = "s"\n'
                                              'params = { seed = "seed s@t", g = "grad s@t+1", z = "z@t+1", '
                                              'r = "r@t+1", st = "st@t+1", s = "s@t", w = "w", w_z = "w_z", '
                                              'w_r = "w_r" }\n' + CHECKS))
    from grader.problems import problem_for

    problem = problem_for(a, a.question("q1"))
    assert problem.bound["seed"].name == r"\nabla_{\mathcal{L}} s_{t}"
    # the seed enters with coefficient 1, and ∇s_{t+1} through z_{t+1} directly among others
    assert problem.reference.coeff(problem.bound["seed"]) == 1
    assert problem.reference.has(problem.bound["g"])


def test_handing_out_the_asked_gradient_is_refused_with_the_seed_spelling(tmp_path):
    with pytest.raises(AssignmentError) as info:
        load_assignment(_pack(tmp_path, HEAD + 'at = "t"\ntarget = "s"\nparams = { g = "grad s@t" }\n' + CHECKS))
    assert str(info.value) == ("variant, question q1: parameter 'g' hands out 'grad s@t', the gradient the "
                               "question asks for; to hand out the loss's own term ∂ℓ/∂s@t, write 'seed s@t'")


def test_a_missing_seed_is_named_with_its_spelling(tmp_path):
    with pytest.raises(AssignmentError, match=r"which no parameter provides \(the loss's own term: name it "
                                              r"'seed s@t'\)"):
        load_assignment(_pack(tmp_path, HEAD + 'at = "t"\ntarget = "st"\nparams = { z = "z@t", '
                                              'g = "grad s@t+1" }\n' + CHECKS))


@pytest.mark.parametrize("params, message", [
    ('{ q = "q@T" }', "cell 'gru_article' has no quantity 'q' at step 'T'; valid quantities of cell "
                      "'gru_article' at 'T' are @T-1: s; @T: r, s, st, x, z, z_r, z_s, z_z; parameters: "
                      "w_r, w_z, w, u_r, u_z, u, b_r, b_z, b; loss seeds: seed s@T; and 'grad NAME@STEP' "
                      "for the gradient of any quantity"),
    ('{ q = "seed z@T" }', "'z@T' receives no loss seed (it is not the cell's output 's' at a step the loss reads)"),
    ('{ q = "grd s@T" }', "'grd s@T' is not a quantity: a parameter may be prefixed only by 'grad ' or 'seed '"),
])
def test_an_unknown_name_lists_the_valid_ones(tmp_path, params, message):
    with pytest.raises(AssignmentError) as info:
        load_assignment(_pack(tmp_path, HEAD + f'at = "T"\ntarget = "z"\nparams = {params}\n' + CHECKS))
    assert message in str(info.value)


def test_an_unknown_target_lists_the_valid_targets(tmp_path):
    with pytest.raises(AssignmentError, match=r"has no quantity 'C' at step 'T'; valid targets of cell "
                                              r"'gru_article' at 'T': r, s, st, z, z_r, z_s, z_z"):
        load_assignment(_pack(tmp_path, HEAD + 'at = "T"\ntarget = "C"\nparams = { s = "s@T" }\n' + CHECKS))


def test_a_bad_cell_file_stops_the_pack_naming_the_file_and_line(tmp_path):
    folder = _pack(tmp_path, HEAD + 'at = "T"\ntarget = "z"\nparams = { s = "s@T" }\n' + CHECKS)
    (folder / "gru.cell").write_text("state: s\noutput: s\ns = tanh(v*s)\n", encoding="utf-8")
    with pytest.raises(AssignmentError, match=r"variant: in the cell file .*gru.cell, line 3: unknown name 'v'"):
        load_assignment(folder)


def test_an_unknown_builtin_cell_is_named_with_a_suggestion(tmp_path):
    folder = _pack(tmp_path, HEAD.replace('"gru.cell"', '"gur"') + 'target = "s"\nparams = {}\n' + CHECKS)
    with pytest.raises(AssignmentError, match="unknown cell 'gur'; did you mean 'gru'"):
        load_assignment(folder)


RIGHT = "def f(a, c, g_prev, s_prev, seed):\n    return (s_prev - tanh(c * s_prev)) * g_prev * (1 - g_prev) * seed\n"
WRONG = "def f(a, c, g_prev, s_prev, seed):\n    return (s_prev - tanh(c * s_prev)) * seed\n"


@pytest.mark.parametrize("answer, score", [(RIGHT, 1.0), (WRONG, 0.0)])
def test_a_cell_declared_only_in_a_file_is_derived_and_graded(tmp_path, answer, score):
    """A cell no built-in has, g = σ(a s + b), s = g s + (1 - g) tanh(c s): the question asks
    for the gradient of g's pre-activation zg at the last step, (s_{T-1} - tanh(c s_{T-1})) g(1 - g) ∂ℓ/∂s_T.
    The wrong answer leaves out σ' = g(1 - g)."""
    toml = 'cell = "minimal_gated.cell"\n[[questions]]\nid = "q1"\nfunction = "f"\npoints = 1\nat = "T"\n'
    text = (FIXTURES / "minimal_gated.cell").read_text(encoding="utf-8").replace(
        "g = σ(a*s + b)", "zg = a*s + b\ng = σ(zg)").replace("tanh(c*s + u*x)", "tanh(c*s)")
    folder = tmp_path / "variant"
    folder.mkdir()
    (folder / "minimal_gated.cell").write_text(text, encoding="utf-8")
    (folder / "assignment.toml").write_text(
        toml + 'target = "zg"\n' +
        'params = { a = "a", c = "c", g_prev = "g@T", s_prev = "s@T-1", seed = "seed s@T" }\n' + CHECKS,
        encoding="utf-8")
    (folder / "answer.py").write_text("from numpy import tanh\n" + answer, encoding="utf-8")
    report = grade(load_assignment(folder), folder / "answer.py")
    assert report.score == score
    if not score:
        (question,) = report.questions
        said = " ".join(m for t in question.tests for m in t.messages)
        assert "at ordinary inputs, the coefficient of the term with ∇s_{T} (the path through s_{T}) is wrong" in said


# --- the pack's numeric tasks -----------------------------------------------------------

def test_the_vanishing_bound_is_attained_at_zero_pre_activations_and_loose_elsewhere():
    import numpy as np

    from grader.tasks.rnn_variants import VanishingBound

    for activation, gamma in (("tanh", 1.0), ("sigmoid", 0.25)):
        task = VanishingBound(activation)
        (gradient, bound), _, _ = task.reference(-1.5, np.zeros(4))
        assert bound == (gamma * 1.5) ** 4 and abs(gradient) == bound
        (gradient, bound), _, _ = task.reference(-1.5, np.array([0.5, -2.0, 1.0, 0.1]))
        assert abs(gradient) < 0.5 * bound


def test_the_vanishing_bound_cases_include_tight_and_loose_ones():
    import numpy as np

    from grader.tasks.rnn_variants import VanishingBound

    rng = np.random.default_rng(0)
    labels = [VanishingBound("sigmoid").case(rng, "ordinary").label for _ in range(8)]
    assert any("attained" in label for label in labels) and any("loose" in label for label in labels)


def test_the_initialization_ranges_are_exact():
    import math

    import numpy as np

    from grader.tasks.rnn_variants import InitRanges

    case = InitRanges().case(np.random.default_rng(1), "ordinary")
    n, m = case.args
    assert case.expected == (math.sqrt(3 / n), math.sqrt(6 / (n + m))) or \
        max(abs(a - b) / b for a, b in zip(case.expected, (math.sqrt(3 / n), math.sqrt(6 / (n + m))))) < 2e-16
    assert [name for name, _ in case.dropped][0] == "the standard deviation 1/√n instead of the half-width √3/√n"


@pytest.mark.parametrize("cell", ["gru", "prototype_lstm", "pseudo_lstm"])
def test_the_carried_path_stays_open_over_a_thousand_steps(cell):
    import numpy as np

    from grader.tasks.rnn_variants import CarriedFactor

    for path in ("full", "direct"):
        case = CarriedFactor(cell, path=path).case(np.random.default_rng(2), "stability")
        assert case.cost == 1000 and abs(case.expected - 1) < 1e-3, (cell, path, case.expected)


def test_the_direct_factor_is_the_product_of_the_update_gates():
    from fractions import Fraction
    from math import prod

    import numpy as np

    from grader.tasks.rnn_variants import CarriedFactor

    case = CarriedFactor("gru", path="direct", inputs=("z@t",)).case(np.random.default_rng(3), "ordinary")
    (z,) = case.args
    assert case.expected == float(prod(Fraction(v) for v in z))
    full = CarriedFactor("gru").expr
    assert str(full) == (r"w_{z}*z_{t}*(1 - z_{t})*(-\tilde{s}_{t} + s_{t-1}) + z_{t} + (1 - \tilde{s}_{t}**2)*"
                         r"(1 - z_{t})*(r_{t}*s_{t-1}*w*w_{r}*(1 - r_{t}) + r_{t}*w)")
