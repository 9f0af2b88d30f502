"""Cells declared in a text file: parsed with the declared names only, errors by line,
and the derived gradients identical to the built-in cell's for the same equations."""
from pathlib import Path

import pytest
import sympy as sp

from reference.symbolic.cellfile import CellFileError, cell_from_spec, load_cell_file, parse_cell_text
from reference.symbolic.derive import gradient, unrolled
from reference.symbolic.graph import Graph
from reference.symbolic.primitives import sigmoid

CELLS = Path(__file__).resolve().parents[2] / "fixtures" / "cells"
GRU_HEAD = "state: s\noutput: s\nparam: w : n x n\nparam: u : n x m\nparam: b : n\n"


@pytest.mark.parametrize("dims", [None, {"n": 2, "m": 3}])
@pytest.mark.parametrize("at", ["t", "T"])
def test_the_gru_file_derives_exactly_the_builtin_grus_gradients(at, dims):
    cell = load_cell_file(CELLS / "gru.cell")
    for quantity in ("s", "z", "r", "st"):
        ours, theirs = gradient(cell.name, quantity, at=at, dims=dims), gradient("gru", quantity, at=at, dims=dims)
        assert ours == theirs, quantity


def test_the_gru_file_gives_the_textbook_update_gate_gradient():
    cell = load_cell_file(CELLS / "gru.cell")
    g = unrolled(cell.name, "T")
    seed = g.seeds[g.value("s", "T")[0]]
    s_prev, st = g.value("s", "T-1")[0], g.value("st", "T")[0]
    assert sp.expand(gradient(cell.name, "z", at="T") - (s_prev - st) * seed) == 0


def test_weights_multiply_the_elementwise_product_of_the_other_factors():
    """w*(s*s) is W(s ⊙ s), also when m = 1 makes the n x m weight u a column."""
    spec = parse_cell_text(GRU_HEAD + "s = tanh(w*(s*s) + u*x + b)\n", "sq.cell")
    graph = Graph(cell_from_spec(spec, "sq.cell", "sq_test"), ("0", "1"), {"n": 2, "m": 1})
    w = graph.params["w"]
    s0 = graph.values[("s", 0)]
    new = graph.defs[graph.values[("s", 1)][0]]
    expected = sp.tanh(w[0, 0] * s0[0] ** 2 + w[0, 1] * s0[1] ** 2 + graph.params["u"][0] * graph.inputs[1][0]
                       + graph.params["b"][0])
    assert new == expected


def test_a_state_reads_its_new_value_after_its_own_equation():
    """The peephole read gate looks at the new cell state: after `c = ...`, c is c_t."""
    text = ("state: h, c\noutput: h\nparam: p : n x n\nparam: b : n\n"
            "c = sigmoid(b)*c + tanh(b)\nh = sigmoid(p*c + b)*tanh(c)\n")
    spec = parse_cell_text(text, "peek.cell")
    graph = Graph(cell_from_spec(spec, "peek.cell", "peek_test"), ("0", "1"))
    c1 = graph.values[("c", 1)][0]
    assert c1 in graph.defs[graph.values[("h", 1)][0]].free_symbols


@pytest.mark.parametrize("text, message", [
    (GRU_HEAD + "s = tanh(w*s + v*x + b)\n",
     "bad.cell, line 6: unknown name 'v' in 'tanh(w*s + v*x + b)'; known names: b, s, u, w, x"),
    (GRU_HEAD + "s = w*s +\n", "bad.cell, line 6: cannot read 'w*s +'"),
    (GRU_HEAD + "s = tanh(u*s + b)\n", "bad.cell, line 6: a 3 x 3 weight applied to a vector of size 2"
     .replace("3 x 3", "2 x 3")),
    (GRU_HEAD + "q = tanh(w*s)\n", "bad.cell: the state s has no equation"),
    (GRU_HEAD + "s = w\n", "bad.cell, line 6: the weight matrix w on its own (a weight must multiply a vector)"),
    (GRU_HEAD + "s = tanh(w)*s\n", "bad.cell, line 6: the weight matrix w on its own"),
    (GRU_HEAD + "u = tanh(w*s)\ns = u\n", "bad.cell, line 6: 'u' is declared as a parameter and cannot be assigned"),
    (GRU_HEAD.replace("param: b : n", "param: b : n x q") + "s = s\n",
     "bad.cell, line 5: a shape is 'n x n', 'n x m', 'p x n' or a vector 'n'"),
    (GRU_HEAD + "stat: s\n", "bad.cell, line 6: unknown declaration 'stat'"),
    (GRU_HEAD + "s = __import__('os')\n", "bad.cell, line 6: unknown name '__import__'"),
    ("output: s\ns = x\n", "bad.cell: declares no state"),
])
def test_a_bad_cell_file_is_refused_naming_the_line(text, message):
    with pytest.raises(CellFileError) as info:
        parse_cell_text(text, "bad.cell")
    assert str(info.value).startswith(message), str(info.value)


def test_an_undeclared_name_never_becomes_a_symbol():
    """No auto-symbol: sympy's own names (E, I, pi, S) are unknown in a cell file too."""
    for name in ("E", "I", "pi", "S", "Symbol"):
        with pytest.raises(CellFileError, match=f"unknown name '{name}'"):
            parse_cell_text(GRU_HEAD + f"s = tanh(w*s + {name})\n", "bad.cell")


def test_sigma_and_unicode_operators_read_as_the_ascii_ones():
    a = parse_cell_text(GRU_HEAD + "s = σ(w*s) ⊙ s − u*x\n", "a.cell").equations[0].expr
    b = parse_cell_text(GRU_HEAD + "s = sigmoid(w*s) * s - u*x\n", "b.cell").equations[0].expr
    assert a == b and a.has(sigmoid)


def test_a_changed_file_with_the_same_name_is_registered_apart(tmp_path):
    first = tmp_path / "one" / "cell.cell"
    second = tmp_path / "two" / "cell.cell"
    for path, act in ((first, "tanh"), (second, "sigmoid")):
        path.parent.mkdir()
        path.write_text(f"name: twin_test\n{GRU_HEAD}s = {act}(w*s + u*x + b)\n", encoding="utf-8")
    a, b = load_cell_file(first), load_cell_file(second)
    assert a.name == "twin_test" and b.name.startswith("twin_test~") and load_cell_file(first) is a
    assert gradient(a.name, "s", at="T") == gradient(a.name, "s", at="T")
    assert not gradient(b.name, "s", at="t").has(sp.tanh)
