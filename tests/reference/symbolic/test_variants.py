"""The course article's cells (seed 000) and a cell read from an equation file: every
derived gradient agrees with mpmath finite differences of the forward equations and
with an independent autodiff oracle (autograd) written from the article's equations."""
from pathlib import Path

import autograd.numpy as anp
import mpmath
import pytest
from autograd import grad

from reference.symbolic import evaluate as ev
from reference.symbolic.cellfile import load_cell_file
from reference.symbolic.derive import unrolled

from .conftest import random_point, random_seeds
from .test_graph import REL_TOL, check_all_gradients

CELLS = Path(__file__).resolve().parents[2] / "fixtures" / "cells"
STEPS = 3


def _sig(z):
    return 1 / (1 + anp.exp(-z))


def _gru(p, s, x):
    r = _sig(p["w_r"] * s + p["u_r"] * x + p["b_r"])
    z = _sig(p["w_z"] * s + p["u_z"] * x + p["b_z"])
    st = anp.tanh(p["w"] * (r * s) + p["u"] * x + p["b"])
    s = z * s + (1 - z) * st
    return s, s


def _prototype(p, s, x):
    i, o, f = (_sig(p[f"w_{g}"] * s + p[f"u_{g}"] * x + p[f"b_{g}"]) for g in "iof")
    st = anp.tanh(p["w"] * (o * s) + p["u"] * x + p["b"])
    s = f * s + i * st
    return s, s


def _pseudo(p, s, x):
    phi = anp.tanh(s)
    i, o, f = (_sig(p[f"w_{g}"] * phi + p[f"u_{g}"] * x + p[f"b_{g}"]) for g in "iof")
    st = anp.tanh(p["w"] * (o * phi) + p["u"] * x + p["b"])
    s = f * s + i * st
    return s, anp.tanh(s)


def _peephole(p, state, x):
    h, c = state
    i = _sig(p["w_i"] * h + p["u_i"] * x + p["p_i"] * c + p["b_i"])
    f = _sig(p["w_f"] * h + p["u_f"] * x + p["p_f"] * c + p["b_f"])
    c = f * c + i * anp.tanh(p["w"] * h + p["u"] * x + p["b"])
    o = _sig(p["w_o"] * h + p["u_o"] * x + p["p_o"] * c + p["b_o"])
    h = o * anp.tanh(c)
    return (h, c), h


ORACLES = {"gru": _gru, "prototype_lstm": _prototype, "pseudo_lstm": _pseudo, "peephole_lstm": _peephole}


def _file_cell() -> str:
    return load_cell_file(CELLS / "gru.cell").name


@pytest.mark.parametrize("cell", [*ORACLES, "gru.cell", "minimal_gated.cell"])
@pytest.mark.parametrize("at", ["t", "T"])
def test_every_gradient_matches_mpmath_finite_differences(rng, cell, at):
    """Every node and weight gradient, scalar, at t < T and at T; half the points saturated."""
    name = load_cell_file(CELLS / cell).name if cell.endswith(".cell") else cell
    graph = unrolled(name, at)
    for k in range(6):
        point = random_point(graph, rng, saturated=k % 2 == 1)
        assert check_all_gradients(graph, point, random_seeds(graph, rng)) < REL_TOL


@pytest.mark.parametrize("cell", ["gru.cell", "minimal_gated.cell"])
def test_a_file_cell_differentiates_correctly_with_vector_state(rng, cell):
    graph = unrolled(load_cell_file(CELLS / cell).name, steps=2, dims={"n": 2, "m": 2})
    point = random_point(graph, rng, saturated=False)
    assert check_all_gradients(graph, point, random_seeds(graph, rng), expanded=False) < REL_TOL


@pytest.mark.parametrize("cell", [*ORACLES, "gru.cell"])
def test_bptt_over_a_sequence_agrees_with_autograd(rng, cell):
    """Numeric BPTT over the symbolic graph (every weight, three steps) against autograd
    of a forward pass written independently from the article's equations."""
    name = _file_cell() if cell == "gru.cell" else cell
    oracle = ORACLES["gru" if cell == "gru.cell" else cell]
    graph = unrolled(name, steps=STEPS)
    for saturated in (False, True):
        point = random_point(graph, rng, saturated=saturated)
        seeds = random_seeds(graph, rng)
        env = ev.forward(graph, point, exact=True)
        env.update({s: mpmath.mpf(v) for s, v in seeds.items()})
        swept = ev.backward(graph, env, exact=True)

        params = {n: point[m[0]] for n, m in graph.params.items()}
        xs = [point[graph.inputs[t][0]] for t in range(1, STEPS + 1)]
        init = tuple(point[graph.values[(s, 0)][0]] for s in graph.cell.state)
        weights = [seeds[graph.seeds[graph.values[(graph.cell.output, t)][0]]] for t in range(1, STEPS + 1)]

        def loss(p):
            state, total = init if len(init) > 1 else init[0], 0.0
            for x, g in zip(xs, weights):
                state, out = oracle(p, state, x)
                total = total + g * out
            return total

        auto = grad(loss)(params)
        for n, m in graph.params.items():
            derived = float(swept[m[0]])
            assert abs(auto[n] - derived) <= 1e-12 * max(1.0, abs(derived)), (cell, n, auto[n], derived)
