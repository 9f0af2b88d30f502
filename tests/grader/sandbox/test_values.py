"""Values through a real child: arguments in, results out, SymPy as trees."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from grader.sandbox import ExprTree, Limits, Sandbox, Symbol, to_sympy

from .conftest import PLAIN_VALUES, cells, same

STUDENT = r'''
import numpy as np
import sympy
from sympy import exp, tanh, sinh, cosh, sech, Piecewise, Function, Matrix, Derivative

def echo(x):
    return x

def lstm_like(a, b, c):
    return tanh(a) * b + 1 / (1 + exp(-c))

def hyperbolic(z):
    return sech(z) + cosh(z) * sinh(z) + sympy.asinh(z)

def named_sigmoid(z):
    return Function("sigmoid")(z) * (1 - Function("sigmoid")(z))

def piecewise(z):
    return Piecewise((z, z > 0), (0, True))

def unknown_function(z):
    return Function("relu")(z) + 1

def derivative(z):
    return Derivative(Function("sigmoid")(z), z)

def divide_by_zero(z):
    return z / sympy.Integer(0)

def matrix(z):
    return Matrix([[z, 1]])

def object_array(z):
    return np.array([[z, z ** 2], [1, sympy.Rational(1, 2)]], dtype=object)

def is_real(z):
    return (z.is_real, z.name, type(z).__name__)

def plain_numbers():
    return [np.float32(0.5), np.int64(7), np.bool_(False), np.complex128(1j), 2 ** 100]

def too_big_array():
    return np.zeros(10 ** 8, dtype=np.int8)

def too_big_string():
    return "x" * (10 ** 8)

def bad_key():
    return {(1, 2): "tuple key"}

def nested_set():
    return {"grads": [np.ones(2), {1, 2}]}

def generator():
    return (i for i in range(3))

def too_deep():
    x = []
    for _ in range(100):
        x = [x]
    return x

def huge_key():
    return {"k" * 10 ** 6: 1, 2: "not a string key " * 10 ** 5}

def shrink_stack_then_return():
    import sys
    sys.setrecursionlimit(30)
    return [[[[[[1]]]]]]
'''


# Importing SymPy takes most of a second on a loaded machine: no short timeouts here.
ROOMY = Limits(cell_timeout=10.0, call_timeout=5.0, setup_timeout=20.0)


@pytest.fixture(scope="module")
def box():
    with Sandbox(cells(STUDENT), limits=ROOMY) as sandbox:
        assert sandbox.setup().cells[0].status == "ok", sandbox.setup().cells[0].message
        yield sandbox


def test_every_plain_value_survives_a_round_trip_through_student_code(box):
    values = [v for _, v in PLAIN_VALUES]
    results = box.call_many("echo", [[v] for v in values])
    for (name, value), result in zip(PLAIN_VALUES, results):
        assert result.status == "ok", (name, result.message)
        assert same(result.value, value), name


def test_kwargs_reach_the_function(box):
    result = box.call("echo", kwargs={"x": {"k": np.arange(3)}})
    assert same(result.value, {"k": np.arange(3)})


def test_numpy_scalars_come_back_as_python_numbers(box):
    result = box.call("plain_numbers")
    assert same(result.value, [0.5, 7, False, 1j, 2 ** 100])


def test_lstm_like_sympy_result_round_trips_to_an_equal_expression(box):
    result = box.call("lstm_like", [Symbol("a"), Symbol("b"), Symbol("c")])
    assert result.status == "ok", result.message
    assert isinstance(result.value, ExprTree)
    a, b, c = sympy.symbols("a b c", real=True)
    rebuilt = to_sympy(result.value, {"a": a, "b": b, "c": c})
    assert rebuilt == sympy.tanh(a) * b + 1 / (1 + sympy.exp(-c))


def test_symbol_arguments_are_real_sympy_symbols(box):
    assert box.call("is_real", [Symbol("h_t")]).value == (True, "h_t", "Symbol")


def test_hyperbolic_functions_are_rewritten_with_exp_and_log(box):
    result = box.call("hyperbolic", [Symbol("z")])
    assert result.status == "ok", result.message
    kinds = set()
    stack = [result.value.tree]
    while stack:
        node = stack.pop()
        kinds.add(node[0])
        if node[0] not in ("Symbol", "Integer", "Rational", "Float", "E"):
            stack.extend(node[1:])
    assert kinds <= {"Add", "Mul", "Pow", "exp", "log", "Symbol", "Integer", "Rational"}
    z = sympy.Symbol("z", real=True)
    rebuilt = to_sympy(result.value, {"z": z})
    expected = sympy.sech(z) + sympy.cosh(z) * sympy.sinh(z) + sympy.asinh(z)
    for point in (-1.3, 0.2, 2.0):
        assert abs(float((rebuilt - expected).subs(z, point))) < 1e-12


def test_undefined_function_named_sigmoid_becomes_the_sigmoid_node(box):
    result = box.call("named_sigmoid", [Symbol("z")])
    z = sympy.Symbol("z", real=True)
    sigma = sympy.Function("sigma")
    assert to_sympy(result.value, {"z": z}, {"sigmoid": sigma}) == sigma(z) * (1 - sigma(z))


@pytest.mark.parametrize("function, complaint", [
    ("piecewise", "containing the function Piecewise, which the grader cannot check; "
                  "use only + - * / **, exp, log, tanh and sigmoid"),
    ("unknown_function", "containing the function relu"),
    ("derivative", "containing an unevaluated Derivative"),
    ("divide_by_zero", "containing zoo"),
    ("matrix", "is a SymPy Matrix"),
])
def test_sympy_results_outside_the_whitelist_are_bad_returns_naming_the_culprit(
        box, function, complaint):
    result = box.call(function, [Symbol("z")])
    assert result.status == "bad-return"
    assert result.value is None
    assert complaint in result.message


def test_object_array_of_expressions_arrives_as_nested_lists_of_trees(box):
    result = box.call("object_array", [Symbol("z")])
    assert result.status == "ok", result.message
    z = sympy.Symbol("z", real=True)
    (t00, t01), (one, half) = result.value
    assert one == 1 and type(one) is int  # plain numbers in an object array stay plain
    assert [to_sympy(t, {"z": z}) for t in (t00, t01, half)] == [z, z ** 2, sympy.Rational(1, 2)]


@pytest.mark.parametrize("function, complaint", [
    ("too_big_array", "returned a value that is too large to grade"),
    ("too_big_string", "returned a value that is too large to grade"),
    ("bad_key", "returned a value that is a dict with a key (1, 2) that is not a string"),
    ("nested_set", "returned a value whose part ['grads'][1] is a set, which the grader "
                   "cannot read"),
    ("generator", "is a generator"),
    ("too_deep", "returned a value whose part [0][0][0]"),
    ("too_deep", "is nested more than 64 levels deep"),
])
def test_unreadable_results_are_bad_returns_with_a_message(box, function, complaint):
    result = box.call(function)
    assert result.status == "bad-return"
    assert complaint in result.message


def test_a_child_stays_usable_after_refusing_a_huge_result(box):
    assert box.call("too_big_array").status == "bad-return"
    assert box.call("echo", [np.ones(3)]).status == "ok"
    assert box.setup().restarts == 0


def test_messages_about_student_objects_stay_short(box):
    result = box.call("huge_key")
    assert result.status == "bad-return" and len(result.message) < 300
    assert "a key 2 that is not a string" in result.message


def test_a_student_lowering_the_recursion_limit_does_not_break_the_protocol(box):
    assert box.call("shrink_stack_then_return").value == [[[[[[1]]]]]]
    assert box.call("echo", [[1, [2, [3]]]]).value == [1, [2, [3]]]
