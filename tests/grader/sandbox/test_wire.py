"""The frame codec: every plain type survives, malformed frames are refused,
and child.py's copy of the format agrees byte for byte with wire.py."""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from grader.sandbox import ExprTree, Symbol, WireError, wire
from grader.sandbox.process import CHILD_SCRIPT

from .conftest import PLAIN_VALUES, same


@pytest.fixture(scope="module")
def child():
    """The child's entry point loaded as a module (main() does not run on
    import); its sibling modules are its attributes, as it loaded them."""
    spec = importlib.util.spec_from_file_location("sandbox_child_under_test", CHILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child_encoder(child):
    cfg = {"value_bytes": 1 << 24, "nesting": wire.MAX_NESTING, "expr_nodes": 200_000,
           "expr_depth": 400}
    return child.codec.Encoder(cfg, child.codec.sympy_kit)


@pytest.mark.parametrize("value", [v for _, v in PLAIN_VALUES], ids=[i for i, _ in PLAIN_VALUES])
def test_plain_value_round_trips_through_wire(value):
    encoded = wire.encode(value)
    text = json.dumps(encoded, allow_nan=False)  # proves it is strict JSON
    assert same(wire.decode(json.loads(text)), value)


@pytest.mark.parametrize("value", [v for _, v in PLAIN_VALUES], ids=[i for i, _ in PLAIN_VALUES])
def test_child_encodes_results_exactly_as_wire_does(child, value):
    assert json.dumps(child_encoder(child).encode(value)) == json.dumps(wire.encode(value))


@pytest.mark.parametrize("value", [v for _, v in PLAIN_VALUES], ids=[i for i, _ in PLAIN_VALUES])
def test_child_decodes_arguments_exactly_as_wire_does(child, value):
    assert same(child.codec.decode(wire.encode(value), symbol=None), value)


def test_symbol_marker_becomes_what_the_child_makes_of_it(child):
    made = child.codec.decode(wire.encode([Symbol("a"), {"k": Symbol("b")}]), symbol=lambda n: f"<{n}>")
    assert made == ["<a>", {"k": "<b>"}]


def test_sympy_result_is_tagged_as_an_expression_tree_on_both_sides(child):
    import sympy

    a = sympy.Symbol("a", real=True)
    encoded = child_encoder(child).encode(sympy.tanh(a) + 2)
    decoded = wire.decode(json.loads(json.dumps(encoded)))
    assert decoded == ExprTree((("Add", ("Integer", 2), ("tanh", ("Symbol", "a")))))
    assert wire.encode(decoded) == {"x": decoded.tree}


def test_frames_are_identical_on_both_sides(child):
    payload = {"id": 3, "value": wire.encode([1.5, "é", float("nan"), np.arange(3)])}
    read_end, write_end = os.pipe()
    try:
        child.framing.Channel(read_end, write_end).send(payload)
        sent = os.read(read_end, 1 << 16)
        assert sent == wire.dump_frame(payload)
        assert sent[:4] == len(sent[4:]).to_bytes(4, "big")
        assert sent[4:].isascii()
        os.write(write_end, wire.dump_frame(payload))
        assert child.framing.Channel(read_end, write_end).recv() == payload
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("obj, complaint", [
    ({"q": 1}, "unknown or malformed tag"),
    ({"t": [1], "d": {}}, "malformed value"),
    ({"f": "NaN"}, "malformed float"),
    ({"a": ["|O", [1], "AAAA"]}, "dtype '|O' is not allowed"),
    ({"a": ["<f8", [2], "AAAA"]}, "needs 16"),
    ({"a": ["<f8", [-1], ""]}, "malformed array shape"),
    ({"a": ["<f8", [1], "!!!!"]}, "not base64"),
    ({"x": ["eval", "__import__('os')"]}, "malformed expression tree"),
    ({"x": ["Symbol", 3]}, "malformed expression tree"),
    ({"c": [1]}, "unknown or malformed tag"),
])
def test_decode_refuses_anything_but_the_documented_shapes(obj, complaint):
    with pytest.raises(WireError, match=complaint.replace("(", r"\(")):
        wire.decode(obj)


def test_decode_refuses_values_nested_too_deep():
    deep: list = []
    for _ in range(wire.MAX_NESTING + 5):
        deep = [deep]
    with pytest.raises(WireError, match="nested more than"):
        wire.decode(deep)


@pytest.mark.parametrize("body, complaint", [
    (b"NaN", "bare NaN"),
    (b"[1, 2]", "not a JSON object"),
    (b"{\"a\": ", "not valid JSON"),
    ("{\"a\": \"\u00e9\"}".encode("utf-8"), "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
])
def test_malformed_frame_bodies_are_wire_errors(body, complaint):
    with pytest.raises(WireError, match=complaint):
        wire.load_body(body)


@pytest.mark.parametrize("value, complaint", [
    ({1: 2}, "dict keys must be str"),
    ({1, 2}, "type set cannot be sent"),
    (np.array(["a"], dtype=object), "dtype object cannot be sent"),
    (Symbol(""), "non-empty"),
])
def test_encode_refuses_what_cannot_cross(value, complaint):
    with pytest.raises(WireError, match=complaint):
        wire.encode(value)


def test_numpy_scalars_cross_as_python_numbers():
    assert same(wire.decode(wire.encode([np.float64(0.5), np.int32(-3), np.bool_(True)])),
                [0.5, -3, True])


def test_parent_modules_never_evaluate_or_unpickle_what_the_child_sends():
    import ast
    from pathlib import Path

    forbidden = {"eval", "exec", "sympify", "parse_expr", "S", "pickle", "marshal", "loads_pickle",
                 "literal_eval", "__import__"}
    package = Path(wire.__file__).parent
    for name in ("runner.py", "process.py", "wire.py", "exprtree.py", "__init__.py"):
        tree = ast.parse((package / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                assert node.id not in forbidden, (name, node.id, node.lineno)
            if isinstance(node, ast.Attribute):
                assert node.attr not in forbidden, (name, node.attr, node.lineno)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not {"pickle", "marshal", "dill", "cloudpickle"} & set(modules), name
