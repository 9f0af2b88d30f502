"""to_sympy does no arithmetic: what the student's tree spells out is rebuilt as
written, however expensive it would be to evaluate."""
from __future__ import annotations

import sympy

from grader.problems import SYMPY_FUNCTIONS, sigmoid
from grader.sandbox import to_sympy
from grader.sandbox.exprtree import MAX_NODES

a, b = sympy.symbols("a b", real=True)
SYMBOLS = {"a": a, "b": b}


def test_a_huge_integer_power_stays_a_power():
    expr = to_sympy(["Pow", ["Integer", 10], ["Integer", 10 ** 999]], SYMBOLS)
    assert expr.func is sympy.Pow
    assert expr.args == (sympy.Integer(10), sympy.Integer(10 ** 999))


def test_a_power_of_a_sum_is_not_expanded_and_its_negation_not_computed():
    tree = ["Mul", ["Integer", -1],
            ["Pow", ["Add", ["Symbol", "a"], ["Symbol", "b"], ["Integer", 1]], ["Integer", 40]]]
    expr = to_sympy(tree, SYMBOLS)
    assert expr.func is sympy.Mul and expr.args[0] == sympy.S.NegativeOne
    power = expr.args[1]
    assert power.func is sympy.Pow and power.args == (sympy.Add(a, b, 1, evaluate=False), sympy.Integer(40))


def test_a_sum_of_a_hundred_thousand_like_terms_is_not_collected():
    tree = ["Add"] + [["Symbol", "ab"[k % 2]] for k in range(100_000)]
    expr = to_sympy(tree, SYMBOLS)
    assert expr.func is sympy.Add and expr.args == (a, b) * 50_000


def test_functions_are_applied_unevaluated():
    expr = to_sympy(["exp", ["log", ["Symbol", "a"]]], SYMBOLS)
    assert expr.func is sympy.exp and expr.args == (sympy.log(a),)
    zero = to_sympy(["sigmoid", ["Integer", 0]], SYMBOLS, SYMPY_FUNCTIONS)
    assert zero.func is sigmoid and zero.args == (sympy.S.Zero,)
    assert zero.doit() == sympy.Rational(1, 2)


def test_the_node_cap_holds_for_to_sympy():
    import pytest

    from grader.sandbox import ExprTreeError

    wide = ["Add"] + [["Symbol", "a"]] * MAX_NODES
    with pytest.raises(ExprTreeError, match=f"more than {MAX_NODES} nodes"):
        to_sympy(wide, SYMBOLS)
