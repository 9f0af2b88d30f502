"""The formulas of the course documents, checked against the derivation.

Seed 003 is one student's homework: its answers are right at the last step and
wrong at t < T, where they drop every path through step t+1. Seed 001 writes
∂C_t/∂C_{t-1} with four terms. Seed 002 writes the vanilla-RNN gradient k
steps back as a product of Wᵀ diag(1 - h²).
"""
import sympy as sp

from reference.symbolic import evaluate as ev
from reference.symbolic.derive import gradient, one_step_jacobian, unrolled
from reference.symbolic.graph import Graph, grad_symbol
from reference.symbolic.cells import RNN
from reference.symbolic.primitives import sigmoid

from .conftest import random_point, random_seeds


def seed003_answers(g, step):
    """Seed 003's ∇o, ∇f, ∇i, written with the quantities of ``step``."""
    v = lambda name, at=step: g.value(name, at)[0]  # noqa: E731
    prev = g.labels[g.step_index(step) - 1]
    grad_h = g.params["W_y"][0] * v("y") * (1 - v("y")) * grad_symbol(v("y"))
    grad_c = v("o") * (1 - sp.tanh(v("C")) ** 2) * grad_h
    return {"o": sp.tanh(v("C")) * grad_h, "f": v("C", prev) * grad_c, "i": v("Ct") * grad_c}


def test_seed003_gate_gradients_are_exactly_the_derived_ones_at_the_last_step():
    g = unrolled("lstm", "T")
    for gate, answer in seed003_answers(g, "T").items():
        assert sp.expand(answer - gradient("lstm", gate, at="T", form="expanded")) == 0, gate


def test_seed003_gate_gradients_are_wrong_before_the_last_step(rng):
    """At t < T the same formulas miss the paths through step t+1: they differ
    from the derived gradient by a clearly non-zero amount at random points."""
    g = unrolled("lstm", "t")
    point = random_point(g, rng, saturated=False)
    env = ev.forward(g, point)
    env.update(random_seeds(g, rng))
    for gate, answer in seed003_answers(g, "t").items():
        derived = ev.evaluate(gradient("lstm", gate, at="t", form="expanded"), env)
        wrong = ev.evaluate(answer, env)
        assert abs(derived - wrong) > 1e-3 * abs(derived), gate
        # ...and the difference is exactly the next-step contribution.
        next_only = {s: 0 for s in g.seeds.values() if "t+1" in s.name}
        assert abs(ev.evaluate(gradient("lstm", gate, at="t", form="expanded"),
                               env | next_only) - wrong) < 1e-12 * (1 + abs(wrong)), gate


def test_seed001_four_term_recursion_equals_the_derived_total_derivative():
    g = Graph(unrolled("lstm", "t").cell, ("t-2", "t-1", "t"))
    v = lambda name, at="t": g.value(name, at)[0]  # noqa: E731
    W = lambda name: g.params[name][0]  # noqa: E731
    tanh_prime_prev = v("o", "t-1") * (1 - sp.tanh(v("C", "t-1")) ** 2)
    four_terms = (v("C", "t-1") * v("f") * (1 - v("f")) * W("W_hf") * tanh_prime_prev
                  + v("Ct") * v("i") * (1 - v("i")) * W("W_hi") * tanh_prime_prev
                  + v("i") * (1 - v("Ct") ** 2) * W("W_hc") * tanh_prime_prev
                  + v("f"))
    derived = one_step_jacobian("lstm", "C")
    # The derived expression lives in its own cached graph; compare by name.
    by_name = {s.name: s for s in four_terms.free_symbols}
    derived = derived.xreplace({s: by_name[s.name] for s in derived.free_symbols})
    assert sp.expand(four_terms - derived) == 0
    # Dropping the gate paths (the "common misconception" of seed 001) is not the same.
    assert sp.expand(v("f") - derived) != 0


def test_seed002_eq1_product_is_the_bptt_gradient_k_steps_back():
    """n = 2, loss on the last state only: ∇h_{τ-k} = [Π_{i=1..k} Wᵀ diag(1 - h²_{τ-k+i})] ∇h_τ."""
    k = 3
    g = Graph(RNN, tuple(str(t) for t in range(k + 1)), {"n": 2, "m": 2}, seed_steps="last")
    W = g.params["W"]
    product = sp.eye(2)
    for i in range(1, k + 1):
        h = g.value("h", i)
        product = product * W.T * sp.diag(*[1 - hj ** 2 for hj in h])
    upstream = sp.Matrix([g.seeds[s] for s in g.value("h", k)])
    expected = product * upstream
    derived = g.gradient("h", 0)
    assert (derived - expected).applyfunc(sp.expand) == sp.zeros(2, 1)
    # Multiplying the factors in the opposite order is a different quantity.
    reversed_product = sp.eye(2)
    for i in range(k, 0, -1):
        reversed_product = reversed_product * W.T * sp.diag(*[1 - hj ** 2 for hj in g.value("h", i)])
    assert (derived - reversed_product * upstream).applyfunc(sp.expand) != sp.zeros(2, 1)


def test_lstm_cell_path_is_the_forget_gate_product_when_the_hidden_paths_are_cut():
    """Seed 002 eq. (3) with c = 0: with every W^{h·} = 0 the only path from C_{τ-k}
    to the loss at τ runs through the cell states, and the gradient is
    Π diag(f) · diag(1 - tanh²C_τ) diag(o_τ) ∇h_τ."""
    k = 3
    g = Graph(unrolled("lstm", "t").cell, tuple(str(t) for t in range(k + 1)), seed_steps="last")
    zero_recurrent = {g.params[n][0]: 0 for n in ("W_hf", "W_hi", "W_ho", "W_hc")}
    derived = g.gradient("C", 0)[0].xreplace(zero_recurrent)
    grad_h_tau = g.adjoint(g.value("h", k)[0])
    path = sp.Mul(*[g.value("f", i)[0] for i in range(1, k + 1)])
    expected = path * (1 - sp.tanh(g.value("C", k)[0]) ** 2) * g.value("o", k)[0] * grad_h_tau
    assert sp.expand(derived - expected.xreplace(zero_recurrent)) == 0
    assert isinstance(sigmoid(sp.Symbol("z")), sp.Function)
