"""The instructor-facing API: ask for gradient G of cell C at step t, get SymPy (and LaTeX).

Unrollings are built once per (cell, horizon, dims) and their adjoints are
memoised inside the graph, so a second request for any gradient is a dict
lookup.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .cells import get_cell
from .graph import Graph

#: How each horizon is unrolled. "t" is a generic step followed by one more, so
#: gradients at t < T include every path through step t+1; "T" is the last step.
HORIZONS = {"t": ("t-1", "t", "t+1"), "T": ("T-1", "T")}
FORMS = ("recursive", "expanded", "primitives")


@lru_cache(maxsize=None)
def _graph(cell: str, labels: tuple[str, ...], dims: tuple, seed_steps: str) -> Graph:
    return Graph(get_cell(cell), labels, dict(dims), seed_steps=seed_steps)


def unrolled(cell: str = "lstm", at: str = "t", dims: dict | None = None, steps: int | None = None,
             seed_steps: str = "all") -> Graph:
    """The cached unrolled graph. ``at`` is "t" or "T"; or give ``steps`` for a
    sequence labelled 0..steps (BPTT over a whole sequence)."""
    if steps is not None:
        labels = tuple(str(k) for k in range(steps + 1))
    elif at in HORIZONS:
        labels = HORIZONS[at]
    else:
        raise ValueError(f"at must be one of {sorted(HORIZONS)} (or give steps=); got {at!r}")
    return _graph(cell, labels, tuple(sorted((dims or {}).items())), seed_steps)


def _scalar(m: sp.Matrix):
    return m[0, 0] if m.shape == (1, 1) else m


def gradient(cell: str, of: str, at: str = "t", form: str = "recursive", dims: dict | None = None):
    """∂L/∂``of`` at step ``at`` ("t" for t < T, "T" for the last step).

    - "recursive": one chain-rule step, in terms of the gradients of the
      quantities that use ``of`` directly (∇C_t = o_t(1 - tanh²C_t)∇h_t + f_{t+1}∇C_{t+1});
    - "expanded": every gradient chained out to the upstream ∇y (seed 003's style);
    - "primitives": the expanded form with every quantity written in weights,
      inputs and the initial state.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}; got {form!r}")
    g = unrolled(cell, at, dims)
    target = g.value(of, at)
    given = g.named_nodes() - set(target) if form == "recursive" else ()
    grad = target.applyfunc(lambda s: g.adjoint(s, given))
    if form == "primitives":
        grad = g.expand(grad)
    return _scalar(grad)


def weight_gradient(cell: str, param: str, steps: int = 3, form: str = "expanded", dims: dict | None = None):
    """∂L/∂``param`` summed over a sequence of ``steps`` steps by BPTT."""
    g = unrolled(cell, steps=steps, dims=dims)
    grad = g.gradient(param)
    return _scalar(g.expand(grad) if form == "primitives" else grad)


def one_step_jacobian(cell: str = "lstm", state: str = "C", via: str = "h", dims: dict | None = None):
    """The total ∂state_t/∂state_{t-1}, including the paths through the gates
    opened by ``via``_{t-1} = o_{t-1} tanh(C_{t-1}) (seed 001's four terms).
    Quantities of step t-1 other than ``via`` (such as o_{t-1}) are held fixed."""
    g = _graph(cell, ("t-2", "t-1", "t"), tuple(sorted((dims or {}).items())), "all")
    t, prev = g.step_index("t"), g.step_index("t-1")
    through = {s for s, (_, step, _) in g.node_of.items() if step == t} | set(g.value(via, prev))
    out = g.value(state, t)
    src = g.value(state, prev)
    jac = sp.Matrix(len(out), len(src), lambda r, c: g.total_derivative(out[r], src[c], through))
    return _scalar(jac)


def latex(expr) -> str:
    return sp.latex(expr)
