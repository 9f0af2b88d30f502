"""Unroll a cell over time and derive gradients by reverse accumulation on symbols.

Every intermediate quantity (a gate, a pre-activation, the cell state) is a
SymPy symbol with a defining expression. The gradient of any symbol is the sum,
over the nodes that use it, of the local derivative times that node's gradient,
which is the chain rule as the homework writes it. A *cut* (the ``given`` set)
says which gradients are taken as known symbols (∇f_{t+1}, ∇C_{t+1}, ...): an
empty cut expands all the way to the upstream gradients ∇y_t, a cut of every
named quantity gives the one-step recursion.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping

import sympy as sp

from .cells import Cell


def grad_symbol(sym: sp.Symbol) -> sp.Symbol:
    return sp.Symbol(r"\nabla " + sym.name, real=True)


class _StepBuilder:
    def __init__(self, graph: "Graph", step: int):
        self._g, self._t = graph, step
        self.x = graph.inputs[step]

    def prev(self, state: str) -> sp.Matrix:
        return self._g.values[(state, self._t - 1)]

    def p(self, name: str) -> sp.Matrix:
        return self._g.params[name]

    def node(self, name: str, expr: sp.Matrix) -> sp.Matrix:
        return self._g._define(name, self._t, expr)


class Graph:
    """A cell unrolled over ``steps`` time steps; step 0 holds the initial state.

    ``labels[k]`` is how step k is written: ("t-1", "t", "t+1") unrolls a
    generic step t followed by one more, ("T-1", "T") a last step.
    """

    def __init__(self, cell: Cell, labels: tuple[str, ...], dims: Mapping[str, int] | None = None,
                 seed_steps: str = "all"):
        self.cell, self.labels = cell, tuple(labels)
        self.steps = len(labels) - 1
        self.dims = dict(cell.dims) | dict(dims or {})
        self.defs: dict[sp.Symbol, sp.Expr] = {}
        self.order: list[sp.Symbol] = []
        self.values: dict[tuple[str, int], sp.Matrix] = {}
        self.node_of: dict[sp.Symbol, tuple[str, int, int]] = {}
        self.uses: dict[sp.Symbol, list[sp.Symbol]] = defaultdict(list)
        self.params = {p.name: self._matrix(p.latex, p.shape, None) for p in cell.params}
        self.inputs = {t: self._matrix("x", ("m", "1"), t) for t in range(1, self.steps + 1)}
        for s in cell.state:
            self.values[(s, 0)] = self._matrix(cell.latex_name(s), ("n", "1"), 0)
        for t in range(1, self.steps + 1):
            cell.step(_StepBuilder(self, t))
            missing = [s for s in cell.state if (s, t) not in self.values]
            if missing:
                raise ValueError(f"cell {cell.name!r} does not define its state {missing} at each step")
        seeded = range(1, self.steps + 1) if seed_steps == "all" else (self.steps,)
        self.seeds = {}
        for t in seeded:
            for sym in self.values[(cell.output, t)]:
                # A terminal output's gradient is simply ∇y_t; a state that is also an
                # output gets a distinct symbol for the part coming from the loss.
                self.seeds[sym] = grad_symbol(sym) if not self.uses.get(sym) else \
                    sp.Symbol(r"\nabla_{\mathcal{L}} " + sym.name, real=True)
        self._adjoints: dict[frozenset, dict[sp.Symbol, sp.Expr]] = {}
        self._expanded: dict[sp.Symbol, sp.Expr] = {}

    # -- construction ---------------------------------------------------------
    def _name(self, latex: str, step: int | None, row: int, col: int, shape) -> str:
        idx = []
        if step is not None:
            idx.append(self.labels[step])
        rows, cols = self.dims[shape[0]] if shape[0] != "1" else 1, self.dims[shape[1]] if shape[1] != "1" else 1
        if rows > 1:
            idx.append(str(row + 1))
        if cols > 1:
            idx.append(str(col + 1))
        return f"{latex}_{{{','.join(idx)}}}" if idx else latex

    def _matrix(self, latex: str, shape: tuple[str, str], step: int | None) -> sp.Matrix:
        rows = 1 if shape[0] == "1" else self.dims[shape[0]]
        cols = 1 if shape[1] == "1" else self.dims[shape[1]]
        return sp.Matrix(rows, cols, lambda r, c: sp.Symbol(self._name(latex, step, r, c, shape), real=True))

    def _define(self, name: str, step: int, expr: sp.Matrix) -> sp.Matrix:
        if (name, step) in self.values:
            raise ValueError(f"cell {self.cell.name!r} defines {name!r} twice in one step")
        latex = self.cell.latex_name(name)
        syms = []
        for k, e in enumerate(expr):
            sym = sp.Symbol(self._name(latex, step, k, 0, ("n", "1") if expr.rows > 1 else ("1", "1")), real=True)
            self.defs[sym] = e
            self.order.append(sym)
            self.node_of[sym] = (name, step, k)
            for leaf in e.free_symbols:
                self.uses[leaf].append(sym)
            syms.append(sym)
        m = sp.Matrix(expr.rows, 1, syms)
        self.values[(name, step)] = m
        return m

    # -- lookup ---------------------------------------------------------------
    def step_index(self, label: str | int) -> int:
        if isinstance(label, int):
            return label
        try:
            return self.labels.index(label)
        except ValueError:
            raise KeyError(f"no step {label!r}; this unrolling has steps {self.labels}") from None

    def value(self, name: str, step: str | int) -> sp.Matrix:
        """The symbols of a quantity (node, state or input) at a step, or a parameter."""
        if name in self.params:
            return self.params[name]
        t = self.step_index(step)
        if name == "x":
            return self.inputs[t]
        try:
            return self.values[(name, t)]
        except KeyError:
            raise KeyError(f"cell {self.cell.name!r} has no quantity {name!r} at step {step!r}") from None

    def named_nodes(self) -> frozenset:
        """Every node that is not a pre-activation: the quantities the homework names."""
        return frozenset(s for s, (name, _, _) in self.node_of.items() if not name.startswith("z"))

    # -- derivation -----------------------------------------------------------
    def local(self, node: sp.Symbol, wrt: sp.Symbol) -> sp.Expr:
        """∂node/∂wrt, written back in terms of node itself where the derivative
        contains the node's own definition (σ' = f(1-f), tanh' = 1 - C̃²)."""
        d = sp.diff(self.defs[node], wrt)
        return d.xreplace({self.defs[node]: node})

    def adjoint(self, sym: sp.Symbol, given: Iterable[sp.Symbol] = ()) -> sp.Expr:
        """∂L/∂sym with the gradients of the ``given`` symbols kept as symbols."""
        given = frozenset(given)
        memo = self._adjoints.setdefault(given, {})
        # Iterative over the reverse topological order: recursion would hit Python's
        # limit on long unrollings, and users of a symbol always come later.
        if sym not in memo:
            for node in reversed(self.order):
                if node not in memo:
                    memo[node] = self._accumulate(node, given, memo)
            if sym not in memo:
                memo[sym] = self._accumulate(sym, given, memo)
        return memo[sym]

    def _accumulate(self, sym, given, memo):
        if sym in given:
            return grad_symbol(sym)
        total = self.seeds.get(sym, sp.Integer(0))
        for user in self.uses.get(sym, ()):
            total += self.local(user, sym) * memo[user]
        return total

    def one_step(self, sym: sp.Symbol) -> sp.Expr:
        """The chain rule applied once: seed plus Σ_users ∂user/∂sym · ∇user."""
        total = self.seeds.get(sym, sp.Integer(0))
        for user in self.uses.get(sym, ()):
            total += self.local(user, sym) * grad_symbol(user)
        return total

    def gradient(self, name: str, step: str | int | None = None, given: Iterable[sp.Symbol] = ()) -> sp.Matrix:
        syms = self.value(name, step)
        return syms.applyfunc(lambda s: self.adjoint(s, given))

    def expand(self, expr):
        """Replace every node symbol by its definition, down to the leaves
        (parameters, inputs, initial state, upstream gradients)."""
        if not self._expanded:
            for node in self.order:
                self._expanded[node] = self.defs[node].xreplace(self._expanded)
        if isinstance(expr, sp.MatrixBase):
            return expr.applyfunc(lambda e: e.xreplace(self._expanded))
        return sp.sympify(expr).xreplace(self._expanded)

    def leaves(self) -> list[sp.Symbol]:
        """Symbols that are not nodes: what a numeric point must give values to."""
        out = [s for m in self.params.values() for s in m]
        out += [s for t in sorted(self.inputs) for s in self.inputs[t]]
        out += [s for name in self.cell.state for s in self.values[(name, 0)]]
        return out

    def total_derivative(self, of: sp.Symbol, wrt: sp.Symbol, through: Iterable[sp.Symbol]) -> sp.Expr:
        """d(of)/d(wrt) along every path whose intermediate nodes are in ``through``;
        anything else is held fixed (forward accumulation in topological order)."""
        through = set(through)
        tangent = {wrt: sp.Integer(1)}
        for node in self.order:
            if node not in through:
                continue
            total = sp.Integer(0)
            for u in self.defs[node].free_symbols:
                if u in tangent:
                    total += self.local(node, u) * tangent[u]
            tangent[node] = total
            if node == of:
                return total
        raise ValueError(f"{of} is not reachable from {wrt} through the given nodes")
