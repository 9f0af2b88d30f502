"""to_sympy rebuilds only whitelisted trees, with the grader's own symbols and
functions, and refuses everything else with an ExprTreeError naming the culprit."""
from __future__ import annotations

import pytest
import sympy

from grader.sandbox import ExprTree, ExprTreeError, to_sympy
from grader.sandbox.exprtree import MAX_DEPTH, check_tree

a, b, c = sympy.symbols("a b c", real=True)
SYMBOLS = {"a": a, "b": b, "c": c}

# tanh(a)*b + 1/(1 + exp(-c)), spelled the way the child spells it.
LSTM_LIKE = ["Add",
             ["Mul", ["Symbol", "b"], ["tanh", ["Symbol", "a"]]],
             ["Pow", ["Add", ["Integer", 1], ["exp", ["Mul", ["Integer", -1], ["Symbol", "c"]]]],
              ["Integer", -1]]]


def test_lstm_like_tree_rebuilds_to_the_expected_expression():
    expr = to_sympy(LSTM_LIKE, SYMBOLS)
    assert expr.doit() == sympy.tanh(a) * b + 1 / (1 + sympy.exp(-c))


def test_every_leaf_kind_rebuilds():
    tree = ["Add", ["Rational", 1, 3], ["Float", 0.25], ["E"], ["log", ["Symbol", "a"]]]
    assert to_sympy(tree, SYMBOLS).doit() == (sympy.Rational(1, 3) + sympy.Float(0.25) + sympy.E
                                              + sympy.log(a))


def test_sigmoid_defaults_to_its_exp_form_and_can_be_the_graders_own_function():
    tree = ["sigmoid", ["Symbol", "a"]]
    assert to_sympy(tree, SYMBOLS).doit() == 1 / (1 + sympy.exp(-a))
    sigma = sympy.Function("sigma")
    assert to_sympy(tree, SYMBOLS, {"sigmoid": sigma}) == sigma(a)


def test_expr_tree_wrapper_is_accepted_and_lists_its_symbols():
    tree = ExprTree.from_wire(LSTM_LIKE)
    assert tree.symbols == {"a", "b", "c"}
    assert to_sympy(tree, SYMBOLS) == to_sympy(LSTM_LIKE, SYMBOLS)


def test_unknown_symbol_is_refused_by_name():
    with pytest.raises(ExprTreeError, match="symbol named 'h_prev'.*expected: a, b, c") as info:
        to_sympy(["Add", ["Symbol", "a"], ["Symbol", "h_prev"]], SYMBOLS)
    assert info.value.culprit == "h_prev"


@pytest.mark.parametrize("tree, complaint", [
    (["Integral", ["Symbol", "a"]], "node type 'Integral' is not allowed"),
    (["__import__", "os"], "node type '__import__' is not allowed"),
    (["Float", float("nan")], "malformed Float"),
    (["Float", float("inf")], "malformed Float"),
    (["Float", "1e3"], "malformed Float"),
    (["Integer", True], "malformed Integer"),
    (["Integer", 10 ** 2000], "malformed Integer"),
    (["Rational", 1, 0], "malformed Rational"),
    (["Symbol", ""], "malformed Symbol"),
    (["E", 1], "malformed E"),
    (["exp", ["Symbol", "a"], ["Symbol", "b"]], "exp node has 2 arguments"),
    (["Pow", ["Symbol", "a"]], "Pow node has 1 arguments"),
    (["Add", ["Symbol", "a"]], "Add node has 1 arguments"),
    ([], "not an expression node"),
    ("a + b", "not an expression node"),
])
def test_malformed_trees_are_refused(tree, complaint):
    with pytest.raises(ExprTreeError, match=complaint):
        to_sympy(tree, SYMBOLS)


def test_oversized_tree_is_refused_before_any_sympy_work():
    wide = ["Add"] + [["Symbol", "a"]] * 1000
    with pytest.raises(ExprTreeError, match="more than 500 nodes"):
        to_sympy(wide, SYMBOLS, max_nodes=500)
    deep: list = ["Symbol", "a"]
    for _ in range(MAX_DEPTH + 1):
        deep = ["exp", deep]
    with pytest.raises(ExprTreeError, match=f"nested more than {MAX_DEPTH} levels"):
        check_tree(deep)


def test_deep_but_allowed_tree_does_not_hit_the_recursion_limit():
    deep: list = ["Symbol", "a"]
    for _ in range(MAX_DEPTH - 1):
        deep = ["Add", ["Integer", 1], deep]
    rebuilt = to_sympy(deep, SYMBOLS)
    # The chain of Adds is spliced into one Add, unevaluated: 399 ones and a.
    assert rebuilt.func is sympy.Add and rebuilt.args == (sympy.S.One,) * (MAX_DEPTH - 1) + (a,)
    assert rebuilt.doit() == a + MAX_DEPTH - 1


def test_function_overrides_are_limited_to_the_whitelist():
    with pytest.raises(ExprTreeError, match="cannot override"):
        to_sympy(["Symbol", "a"], SYMBOLS, {"eval": eval})
