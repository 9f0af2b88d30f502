"""The public tests embedded in each student notebook are the grader's own, bit for bit."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.authoring import pack_dirs, student_path
from grader.authoring.publictests import EmbedError, encode, layout
from grader.checks import CHECKS
from grader.checks.base import CheckContext
from grader.problems import problem_for

PACKS = pack_dirs()
EMBEDDED = re.compile(r"_selfcheck\(globals\(\), r'''\n(.*)\n'''\)", re.DOTALL)


def embedded(pack) -> dict:
    """The JSON literal of the committed student notebook's setup cell."""
    text = json.loads(student_path(load_assignment(pack)).read_text(encoding="utf-8"))
    setup = "".join(next(c for c in text["cells"] if c["cell_type"] == "code")["source"])
    return json.loads(EMBEDDED.search(setup).group(1))


def decode(obj):
    """Written apart from the notebook's decoder, so a shared mistake cannot hide."""
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    (tag, body), *rest = obj.items()
    if tag == "array":
        extra = dict(rest)
        arr = np.array(body, dtype=extra["dtype"])
        return arr.reshape(extra["shape"])
    return {"tuple": lambda: tuple(decode(v) for v in body), "dict": lambda: {k: decode(v) for k, v in body.items()},
            "float": lambda: float(body)}[tag]()


def same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_committed_notebook_embeds_exactly_the_graders_public_numeric_cases(pack):
    assignment = load_assignment(pack)
    data = {q["id"]: q for q in embedded(pack)["questions"]}
    compared = 0
    for q in assignment.auto_questions:
        public = [s for s in q.checks if not s.hidden and s.visibility == "visible"
                  and s.check in ("numeric", "stability")]
        checks = data[q.id]["checks"]
        assert [c["label"] for c in checks] == [s.label for s in public]
        ctx = CheckContext(assignment, q, problem_for(assignment, q), box=None)
        for spec, check in zip(public, checks):
            cases = CHECKS[spec.check]().cases(ctx, spec)
            assert len(check["cases"]) == len(cases)
            assert (check["rtol"], check["kappa"]) == (float(spec.option("rtol", 1e-9)),
                                                       float(spec.option("kappa", 256.0)))
            for case, got in zip(cases, check["cases"]):
                assert same(list(case.args), decode(got["args"]))
                assert same(case.expected, decode(got["expected"]))
                assert same(case.magnitude, decode(got["magnitude"]))
                assert got["label"] == case.label
                compared += 1
    assert compared > 0 or not any(not s.hidden for q in assignment.auto_questions for s in q.checks)


def test_lstm_scalar_embeds_ten_ordinary_cases_per_expression_question_and_none_saturated():
    data = {q["id"]: q for q in embedded(PACKS[[p.name for p in PACKS].index("lstm_scalar")])["questions"]}
    assert [len(c["cases"]) for c in data["q1"]["checks"]] == [10]
    assert data["q1"]["checks"][0]["label"] == "numeric (ordinary)"
    assert data["q1"]["autograder_only"] == ["symbolic"] and data["q1"]["hidden"] == 1
    assert [len(c["cases"]) for c in data["q13"]["checks"]] == [6] and data["q13"]["hidden"] == 3
    assert data["q15"] == {"id": "q15", "title": "Why the gradient neither explodes nor vanishes when f ≈ 1 "
                                                 "and i ≈ 0", "function": "", "manual": True}


def test_encode_tags_every_non_json_type_and_keeps_floats_exact():
    value = (0.1, float("inf"), {"w": np.float64(1 / 3)}, np.array([[1.5, -2.0]]), [np.int64(7), True, None])
    assert encode(value) == {"tuple": [
        0.1, {"float": "inf"}, {"dict": {"w": 1 / 3}},
        {"array": [[1.5, -2.0]], "dtype": "float64", "shape": [1, 2]}, [7, True, None]]}
    assert json.loads(json.dumps(encode(1 / 3))) == 1 / 3
    assert same(decode(json.loads(json.dumps(encode(value)))),
                (0.1, float("inf"), {"w": 1 / 3}, np.array([[1.5, -2.0]]), [7, True, None]))


@pytest.mark.parametrize("value, message", [
    (np.array([1 + 2j]), "arrays of dtype complex128 cannot be embedded"),
    (np.array([1.0, np.nan]), "arrays with NaN or inf cannot be embedded as JSON numbers"),
    ({1: 2.0}, "dict keys must be strings: [1]"),
    (object(), "values of type object cannot be embedded"),
])
def test_encode_refuses_what_the_notebook_could_not_rebuild_exactly(value, message):
    with pytest.raises(EmbedError) as info:
        encode(value)
    assert str(info.value) == message


def test_layout_puts_a_scalar_case_on_one_line_rows_of_numbers_whole_and_breaks_only_long_deep_values():
    row = [0.123456789012345] * 6
    case = {"args": [0.1, 0.2], "expected": 0.5, "label": ""}
    matrix = {"array": [row, row], "dtype": "float64", "shape": [2, 6]}
    value = {"cases": [case, {"args": [matrix], "expected": 1.0}]}
    text = layout(value)
    assert json.loads(text) == value
    flat_row = json.dumps(row)
    assert text == (
        '{\n'
        ' "cases": [\n'
        '  {"args": [0.1, 0.2], "expected": 0.5, "label": ""},\n'
        '  {\n'
        '   "args": [\n'
        '    {\n'
        '     "array": [\n'
        f'      {flat_row},\n'
        f'      {flat_row}\n'
        '     ],\n'
        '     "dtype": "float64",\n'
        '     "shape": [2, 6]\n'
        '    }\n'
        '   ],\n'
        '   "expected": 1.0\n'
        '  }\n'
        ' ]\n'
        '}')
