"""The public tests embedded in each student notebook are the grader's own, bit for bit."""
from __future__ import annotations

import json

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.authoring import pack_dirs, student_path
from grader.authoring.publictests import EmbedError, encode, pack, unpack
from grader.authoring.publictests import embedded as packed_in
from grader.checks import CHECKS
from grader.checks.base import CheckContext
from grader.problems import problem_for

PACKS = pack_dirs()
def embedded(pack) -> dict:
    """The packed tests of the committed student notebook's setup cell."""
    text = json.loads(student_path(load_assignment(pack)).read_text(encoding="utf-8"))
    return packed_in("".join(next(c for c in text["cells"] if c["cell_type"] == "code")["source"]))


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
        # the axis roles by which check() names a wrong gate block or time step, as the grader does
        layouts = problem_for(assignment, q).layouts
        assert data[q.id]["layouts"] == {name: list(roles) for name, roles in layouts.items()}
        # the notebook's own seeds: the same kind of cases as the graded ones, never those
        ctx = CheckContext(assignment, q, problem_for(assignment, q), box=None, purpose="public")
        graded = CheckContext(assignment, q, problem_for(assignment, q), box=None)
        for spec, check in zip(public, checks):
            assert not same(list(CHECKS[spec.check]().cases(graded, spec)[0].args), decode(check["cases"][0]["args"]))
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


def test_lstm_packed_embeds_the_gate_and_time_axes_of_its_array_answers():
    data = {q["id"]: q for q in embedded(PACKS[[p.name for p in PACKS].index("lstm_packed")])["questions"]}
    assert data["q1"]["layouts"] == {}
    assert data["q2"]["layouts"] == {"dWx": [None, "gates:ifog"], "dWh": [None, "gates:ifog"], "db": ["gates:ifog"]}
    assert data["q3"]["layouts"] == {"": [None, "time", None]}
    assert data["q4"]["layouts"] == {"dx": [None, "time", None], "dWx": [None, "gates:ifog"],
                                     "dWh": [None, "gates:ifog"], "db": ["gates:ifog"]}


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


def test_packing_is_one_line_of_base64_that_unpacks_to_the_same_json():
    data = {"questions": [{"id": "q1", "title": "∇h_T ≈ 'quoted'", "cases": [0.1, 1 / 3, -2.5e-300]}]}
    packed = pack(data)
    assert packed.isascii() and "\n" not in packed and '"' not in packed and "'" not in packed
    assert unpack(packed) == data
