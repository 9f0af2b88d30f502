"""The instructor-facing API: forms, caching, LaTeX, and precision at saturation."""
import math

import mpmath
import pytest
import sympy as sp

import reference
from reference.symbolic import evaluate as ev
from reference.symbolic.derive import unrolled


def test_recursive_form_is_the_homework_recursion():
    g = unrolled("lstm", "t")
    v = lambda name, at="t": g.value(name, at)[0]  # noqa: E731
    expected = v("o") * (1 - sp.tanh(v("C")) ** 2) * reference.grad_symbol(v("h")) \
        + v("f", "t+1") * reference.grad_symbol(v("C", "t+1"))
    assert sp.expand(reference.gradient("lstm", "C", at="t") - expected) == 0


def test_last_step_has_no_next_step_terms():
    expr = reference.gradient("lstm", "C", at="T")
    assert all("T+1" not in s.name for s in expr.free_symbols)
    assert {s.name for s in expr.free_symbols} == {"o_{T}", "C_{T}", r"\nabla h_{T}"}


def test_primitives_form_mentions_only_weights_inputs_initial_state_and_upstream_gradients():
    expr = reference.gradient("lstm", "o", at="T", form="primitives")
    g = unrolled("lstm", "T")
    allowed = set(g.leaves()) | set(g.seeds.values())
    assert expr.free_symbols <= allowed


def test_a_second_request_returns_the_cached_expression_itself():
    first = reference.weight_gradient("lstm", "W_hi", steps=3)
    assert reference.weight_gradient("lstm", "W_hi", steps=3) is first
    assert reference.unrolled("gru", "t") is reference.unrolled("gru", "t")


def test_latex_renders_the_homework_notation():
    text = reference.latex(reference.gradient("lstm", "C", at="t"))
    assert r"\nabla C_{t+1} f_{t+1}" in text
    assert r"\tanh^{2}{\left(C_{t} \right)}" in text
    assert r"\sigma\left(z\right)" == reference.latex(reference.sigmoid(sp.Symbol("z")))


def test_unknown_cell_quantity_or_form_is_named_in_the_error():
    with pytest.raises(KeyError, match="unknown cell 'lstmm'; known cells: gru, lstm"):
        reference.gradient("lstmm", "C")
    with pytest.raises(KeyError, match="cell 'lstm' has no quantity 'q' at step 't'"):
        reference.gradient("lstm", "q")
    with pytest.raises(ValueError, match="form must be one of"):
        reference.gradient("lstm", "C", form="pretty")


def test_exact_evaluation_keeps_every_digit_when_a_gate_saturates_at_1000():
    """σ'(1000) = e^{-1000}(1+e^{-1000})^{-2}: float64 says 0, the exact path gets
    it to full relative precision because it raises its precision with |z|."""
    g = unrolled("lstm", "T")
    point = {s: 0.5 for s in g.leaves()}
    point[g.params["W_0f"][0]] = 1000.0
    exact = ev.forward(g, point, exact=True)
    assert exact["dps"] >= 1000 / math.log(10)
    f = g.value("f", "T")[0]
    z = exact[g.value("z_f", "T")[0]]
    one_minus_f = ev.evaluate(1 - f, exact, exact=True)
    with mpmath.workdps(600):
        truth = 1 - 1 / (1 + mpmath.exp(-z))
    assert abs(one_minus_f / truth - 1) < mpmath.mpf("1e-30")
    assert float(one_minus_f) == 0.0  # e^{-1000} underflows in float64
    assert ev.evaluate(1 - f, ev.forward(g, point)) == 0.0


def test_float_evaluation_of_a_saturated_gate_raises_no_warning():
    g = unrolled("lstm", "T")
    point = {s: 0.5 for s in g.leaves()}
    point[g.params["W_0f"][0]] = -1000.0
    point[g.params["W_0i"][0]] = 1000.0
    env = ev.forward(g, point)
    assert env[g.value("f", "T")[0]] == 0.0 and env[g.value("i", "T")[0]] == 1.0
