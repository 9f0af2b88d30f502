"""Recurrent cells, each described only by its forward equations.

A cell's ``step`` receives a builder and writes one time step as a sequence of
named assignments; nothing here mentions a derivative. The graph module unrolls
the step and derives every gradient from these equations alone.

Notation follows the course documents: the homework LSTM uses W^{hf}, W^{xf},
W_0^f, ... and an output y_t = σ(W^y h_t + W_0^y); the seed-000 variants use
w, u, b (and peephole matrices p) with state s_t or (c_t, h_t).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .primitives import ew, hadamard, ones_like, sigmoid

tanh = sp.tanh


@dataclass(frozen=True)
class Param:
    """A weight or bias. ``shape`` names dimensions: n hidden, m input, p output, 1."""

    name: str
    latex: str
    shape: tuple[str, str]


@dataclass(frozen=True)
class Cell:
    name: str
    title: str
    source: str
    state: tuple[str, ...]
    params: tuple[Param, ...]
    output: str
    step: Callable
    latex: tuple[tuple[str, str], ...] = ()
    dims: tuple[tuple[str, int], ...] = (("n", 1), ("m", 1), ("p", 1))

    def latex_name(self, node: str) -> str:
        return dict(self.latex).get(node, node)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"cell {self.name!r} has no parameter {name!r}")


def _gate_params(gate: str, h="h", x="x", bias="0", latex_h=None, latex_x=None, latex_b=None):
    """The three parameters of one homework gate: W^{h·}, W^{x·}, W_0^{·}."""
    return (
        Param(f"W_{h}{gate}", latex_h or f"W^{{{h}{gate}}}", ("n", "n")),
        Param(f"W_{x}{gate}", latex_x or f"W^{{{x}{gate}}}", ("n", "m")),
        Param(f"W_{bias}{gate}", latex_b or f"W_0^{{{gate}}}", ("n", "1")),
    )


def _lstm_homework(b):
    h, C, x = b.prev("h"), b.prev("C"), b.x
    f = b.node("f", ew(sigmoid, b.node("z_f", b.p("W_hf") * h + b.p("W_xf") * x + b.p("W_0f"))))
    i = b.node("i", ew(sigmoid, b.node("z_i", b.p("W_hi") * h + b.p("W_xi") * x + b.p("W_0i"))))
    o = b.node("o", ew(sigmoid, b.node("z_o", b.p("W_ho") * h + b.p("W_xo") * x + b.p("W_0o"))))
    Ct = b.node("Ct", ew(tanh, b.node("z_c", b.p("W_hc") * h + b.p("W_xc") * x + b.p("W_0c"))))
    C_new = b.node("C", hadamard(f, C) + hadamard(i, Ct))
    h_new = b.node("h", hadamard(o, ew(tanh, C_new)))
    b.node("y", ew(sigmoid, b.node("z_y", b.p("W_y") * h_new + b.p("W_0y"))))


LSTM = Cell(
    name="lstm",
    title="LSTM in the homework's notation (seed 003)",
    source="seed 003",
    state=("h", "C"),
    params=(
        *_gate_params("f"), *_gate_params("i"), *_gate_params("o"), *_gate_params("c"),
        Param("W_y", "W^{y}", ("p", "n")),
        Param("W_0y", "W_0^{y}", ("p", "1")),
    ),
    output="y",
    step=_lstm_homework,
    latex=(("Ct", r"\tilde{C}"), ("z_f", "z^{f}"), ("z_i", "z^{i}"), ("z_o", "z^{o}"),
           ("z_c", "z^{c}"), ("z_y", "z^{y}")),
)


def _rnn(b):
    b.node("h", ew(tanh, b.node("z", b.p("W") * b.prev("h") + b.p("U") * b.x + b.p("b"))))


RNN = Cell(
    name="rnn",
    title="Vanilla (Elman) RNN h_t = tanh(W h_{t-1} + U x_t + b) (seeds 000-002)",
    source="seeds 000, 001, 002",
    state=("h",),
    params=(Param("W", "W", ("n", "n")), Param("U", "U", ("n", "m")), Param("b", "b", ("n", "1"))),
    output="h",
    step=_rnn,
)


def _seed000_gate(b, gate, state_term):
    z = b.p(f"w_{gate}") * state_term + b.p(f"u_{gate}") * b.x + b.p(f"b_{gate}")
    return b.node(gate, ew(sigmoid, b.node(f"z_{gate}", z)))


def _seed000_params(gates, extra=()):
    out = []
    for g in gates:
        out += [Param(f"w_{g}", f"w_{{{g}}}", ("n", "n")), Param(f"u_{g}", f"u_{{{g}}}", ("n", "m")),
                Param(f"b_{g}", f"b_{{{g}}}", ("n", "1"))]
    out += [Param("w", "w", ("n", "n")), Param("u", "u", ("n", "m")), Param("b", "b", ("n", "1"))]
    return tuple(out) + tuple(extra)


def _gru(b):
    s = b.prev("s")
    r = _seed000_gate(b, "r", s)
    z = _seed000_gate(b, "z", s)
    st = b.node("st", ew(tanh, b.node("z_s", b.p("w") * hadamard(r, s) + b.p("u") * b.x + b.p("b"))))
    b.node("s", hadamard(z, s) + hadamard(ones_like(z) - z, st))


GRU = Cell(
    name="gru", title="GRU (seed 000)", source="seed 000", state=("s",),
    params=_seed000_params("rz"), output="s", step=_gru,
    latex=(("st", r"\tilde{s}"), ("z_s", r"z^{\tilde{s}}"), ("z_r", "z^{r}"), ("z_z", "z^{z}")),
)


def _prototype(b):
    s = b.prev("s")
    i, o, f = (_seed000_gate(b, g, s) for g in "iof")
    st = b.node("st", ew(tanh, b.node("z_s", b.p("w") * hadamard(o, s) + b.p("u") * b.x + b.p("b"))))
    b.node("s", hadamard(f, s) + hadamard(i, st))


PROTOTYPE_LSTM = Cell(
    name="prototype_lstm", title="Prototype LSTM (seed 000)", source="seed 000", state=("s",),
    params=_seed000_params("iof"), output="s", step=_prototype,
    latex=(("st", r"\tilde{s}"), ("z_s", r"z^{\tilde{s}}")),
)


def _pseudo(b):
    s = b.prev("s")
    squashed = b.node("phi_prev", ew(tanh, s))
    i, o, f = (_seed000_gate(b, g, squashed) for g in "iof")
    st = b.node("st", ew(tanh, b.node("z_s", b.p("w") * hadamard(o, squashed) + b.p("u") * b.x + b.p("b"))))
    s_new = b.node("s", hadamard(f, s) + hadamard(i, st))
    b.node("out", ew(tanh, s_new))


PSEUDO_LSTM = Cell(
    name="pseudo_lstm", title="Pseudo LSTM (seed 000)", source="seed 000", state=("s",),
    params=_seed000_params("iof"), output="out", step=_pseudo,
    latex=(("st", r"\tilde{s}"), ("z_s", r"z^{\tilde{s}}"), ("phi_prev", r"\phi(s)"),
           ("out", r"\mathrm{rnn}_{out}")),
)


def _peephole(b):
    h, c, x = b.prev("h"), b.prev("c"), b.x

    def gate(g, cell_state):
        z = b.p(f"w_{g}") * h + b.p(f"u_{g}") * x + b.p(f"p_{g}") * cell_state + b.p(f"b_{g}")
        return b.node(g, ew(sigmoid, b.node(f"z_{g}", z)))

    i, f = gate("i", c), gate("f", c)
    ct = b.node("ct", ew(tanh, b.node("z_c", b.p("w") * h + b.p("u") * x + b.p("b"))))
    c_new = b.node("c", hadamard(f, c) + hadamard(i, ct))
    o = gate("o", c_new)  # Gers & Schmidhuber: the read gate peeks at the *new* cell state
    b.node("h", hadamard(o, ew(tanh, c_new)))


PEEPHOLE_LSTM = Cell(
    name="peephole_lstm", title="LSTM with peepholes (seed 000)", source="seed 000",
    state=("h", "c"),
    params=_seed000_params("ifo", extra=tuple(Param(f"p_{g}", f"p_{{{g}}}", ("n", "n")) for g in "ifo")),
    output="h", step=_peephole,
    latex=(("ct", r"\tilde{c}"),),
)

CELLS = {c.name: c for c in (LSTM, RNN, GRU, PROTOTYPE_LSTM, PSEUDO_LSTM, PEEPHOLE_LSTM)}
# Cells declared in an assignment's cell file (reference.symbolic.cellfile), registered
# when the file is loaded; kept apart so that the built-in list never depends on what
# a process happened to load.
FILE_CELLS: dict[str, Cell] = {}


def get_cell(name: str) -> Cell:
    try:
        return CELLS.get(name) or FILE_CELLS[name]
    except KeyError:
        loaded = f"; loaded from cell files: {', '.join(sorted(FILE_CELLS))}" if FILE_CELLS else ""
        raise KeyError(f"unknown cell {name!r}; known cells: {', '.join(sorted(CELLS))}{loaded}") from None
