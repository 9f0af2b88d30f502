"""Random points for the symbolic engine's tests: ordinary ones and saturated ones."""
import numpy as np
import pytest


def random_point(graph, rng, saturated: bool, extreme: bool = False):
    """Values for every leaf of ``graph``. A saturated point pushes every bias to
    ±(8..30) (±(100..1000) when ``extreme``) so that gates sit at 0 or 1."""
    point = {}
    for name, mat in graph.params.items():
        for s in mat:
            is_bias = graph.cell.param(name).shape[1] == "1"
            if is_bias and saturated:
                lo, hi = (100.0, 1000.0) if extreme else (8.0, 30.0)
                point[s] = float(rng.choice([-1, 1]) * rng.uniform(lo, hi))
            else:
                point[s] = float(rng.normal(0.0, 1.0))
    for s in graph.leaves():
        point.setdefault(s, float(rng.normal(0.0, 1.0)))
    return point


def random_seeds(graph, rng):
    return {sym: float(rng.normal()) for sym in graph.seeds.values()}


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
