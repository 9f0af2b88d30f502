"""The derived gradients agree with finite differences of the forward equations alone.

The oracle shares nothing with the derivation but the forward equations: the
loss L = Σ_t ∇y_t · y_t is evaluated in mpmath with one quantity nudged by ±h,
and (L(+h) - L(-h)) / 2h is compared with the symbolic adjoint evaluated
exactly at the same point.
"""
import mpmath
import pytest
import sympy as sp

from reference.symbolic import evaluate as ev
from reference.symbolic.cells import CELLS
from reference.symbolic.derive import unrolled
from reference.symbolic.graph import Graph

from .conftest import random_point, random_seeds

FD_EXTRA_DIGITS = 70
FD_STEP_DIGITS = 30
REL_TOL = mpmath.mpf("1e-25")


def loss(graph, env, seeds):
    total = 0
    for node, seed_sym in graph.seeds.items():
        total += env[node] * seeds[seed_sym]
    return total


def fd_gradient(graph, point, seeds, wrt, dps):
    """Central difference of the loss with respect to a leaf or a node, at ``dps`` digits."""
    h = mpmath.mpf(10) ** -FD_STEP_DIGITS
    values = []
    with mpmath.workdps(dps):
        for sign in (1, -1):
            if wrt in graph.defs:
                env = ev.forward(graph, point, exact=True, dps=dps, offsets={wrt: sign * h})
            else:
                moved = dict(point)
                moved[wrt] = mpmath.mpf(point[wrt]) + sign * h
                env = ev.forward(graph, moved, exact=True, dps=dps)
            values.append(loss(graph, env, seeds))
        return (values[0] - values[1]) / (2 * h)


def relative_gap(a, b):
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else mpmath.mpf(0)


def fd_digits(base_dps, derived):
    """Digits the difference quotient needs: the point's own precision, the step,
    and the gap between the loss (order 1) and a gradient as small as e^{-1000}.
    The derived value only sizes the working precision; the value compared is the
    finite difference's."""
    tiny = 0 if derived == 0 else max(0, int(-mpmath.log10(abs(derived))))
    return base_dps + FD_EXTRA_DIGITS + tiny


def check_all_gradients(graph, point, seeds, expanded=True):
    """Compare every node and weight gradient with its finite difference. With
    ``expanded`` the fully chained adjoint expression is evaluated; otherwise the
    one-step rules are swept backwards (the same derivation, smaller expressions)."""
    base = ev.required_dps(ev.forward(graph, point).values())
    env = ev.forward(graph, point, exact=True, dps=base + FD_EXTRA_DIGITS)
    env.update({s: mpmath.mpf(v) for s, v in seeds.items()})
    swept = None if expanded else ev.backward(graph, env, exact=True)
    worst = mpmath.mpf(0)
    targets = list(graph.order) + [s for m in graph.params.values() for s in m]
    for wrt in targets:
        if wrt in graph.seeds and not graph.uses.get(wrt):
            continue
        derived = ev.evaluate(graph.adjoint(wrt), env, exact=True) if expanded else swept[wrt]
        fd = fd_gradient(graph, point, seeds, wrt, fd_digits(base, derived))
        gap = relative_gap(derived, fd)
        assert gap < REL_TOL, f"{wrt}: derived {derived} vs finite difference {fd}"
        worst = max(worst, gap)
    return worst


@pytest.mark.parametrize("at", ["t", "T"])
def test_scalar_lstm_gradients_match_mpmath_finite_differences_at_50_points(rng, at):
    """Every node and weight gradient of the scalar LSTM, at t < T and at T:
    25 ordinary points and 25 saturated ones (|pre-activation| 8..30, and
    100..1000 for a fifth of them)."""
    graph = unrolled("lstm", at)
    worst = mpmath.mpf(0)
    for k in range(50):
        saturated = k % 2 == 1
        point = random_point(graph, rng, saturated=saturated, extreme=saturated and k % 5 == 1)
        worst = max(worst, check_all_gradients(graph, point, random_seeds(graph, rng)))
    assert worst < REL_TOL


def test_bptt_weight_gradients_over_a_sequence_match_finite_differences(rng):
    """∇W^{hi} and every other weight, summed over a 4-step sequence by BPTT."""
    graph = unrolled("lstm", steps=4)
    for k in range(6):
        point = random_point(graph, rng, saturated=k % 2 == 1)
        assert check_all_gradients(graph, point, random_seeds(graph, rng)) < REL_TOL


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_every_shipped_cell_differentiates_correctly_with_vector_state(rng, cell):
    """n = 2, m = 2, three steps: the engine is not specialised to the LSTM or to scalars."""
    graph = Graph(CELLS[cell], ("0", "1", "2", "3"), {"n": 2, "m": 2, "p": 1})
    for k in range(2):
        point = random_point(graph, rng, saturated=k == 1)
        assert check_all_gradients(graph, point, random_seeds(graph, rng), expanded=False) < REL_TOL


def test_recursive_form_equals_expanded_form_once_next_step_gradients_are_substituted():
    """The one-step recursion and the fully chained gradient are the same quantity."""
    graph = unrolled("lstm", "t")
    named = graph.named_nodes()
    for name in ("h", "C", "o", "f", "i", "Ct"):
        target = graph.value(name, "t")[0]
        recursive = graph.adjoint(target, named - {target})
        chained = recursive.xreplace({sp.Symbol(r"\nabla " + s.name, real=True): graph.adjoint(s)
                                      for s in named})
        assert sp.expand(chained - graph.adjoint(target)) == 0, name


def test_a_cell_that_forgets_its_state_is_rejected():
    from reference.symbolic.cells import Cell

    broken = Cell(name="broken", title="", source="", state=("h",), params=(), output="y",
                  step=lambda b: b.node("y", b.x))
    with pytest.raises(ValueError, match=r"does not define its state \['h'\]"):
        Graph(broken, ("0", "1"))


def test_the_finite_difference_oracle_rejects_a_gradient_that_drops_the_next_step_term(rng):
    """Guards the guard: ∇C_t without f_{t+1}∇C_{t+1} must be caught."""
    graph = unrolled("lstm", "t")
    c_t = graph.value("C", "t")[0]
    c_next = graph.value("C", "t+1")[0]
    point = random_point(graph, rng, saturated=False)
    seeds = random_seeds(graph, rng)
    base = ev.required_dps(ev.forward(graph, point).values())
    env = ev.forward(graph, point, exact=True, dps=base + FD_EXTRA_DIGITS)
    env.update({s: mpmath.mpf(v) for s, v in seeds.items()})
    full = graph.adjoint(c_t)
    dropped = full - graph.local(c_next, c_t) * graph.adjoint(c_next)
    fd = fd_gradient(graph, point, seeds, c_t, fd_digits(base, 1))
    assert relative_gap(ev.evaluate(full, env, exact=True), fd) < REL_TOL
    assert relative_gap(ev.evaluate(dropped, env, exact=True), fd) > mpmath.mpf("1e-3")
