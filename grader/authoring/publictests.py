"""The public tests of an assignment, as plain JSON for the student notebook.

The cases come from the grader's own check classes, with seeds of their own
("public"), so a student running ``check("q3")`` meets the same kind of inputs,
checked the same way, as the autograder's public numeric tests, but not the
graded cases themselves. Only checks that are
neither hidden nor held back (``visibility`` other than "visible") are
embedded; every hidden case stays out of the notebook.
"""
from __future__ import annotations

import base64
import json
import math
import re
import zlib
from typing import Any

import numpy as np

from ..assignment import Assignment, CheckSpec, Question
from ..checks import CHECKS
from ..checks.base import CheckContext, lenient_at, tolerance
from ..checks.numeric import NumericCheck
from ..problems import problem_for

FORMAT = 1


class EmbedError(ValueError):
    """A value the notebook's decoder could not reproduce exactly."""


def is_public(spec: CheckSpec) -> bool:
    return not spec.hidden and spec.visibility == "visible"


def runs_in_notebook(spec: CheckSpec) -> bool:
    """Checks whose cases are inputs plus expected values; the others (symbolic,
    gradcheck) need the reference engine at grading time."""
    return issubclass(CHECKS[spec.check], NumericCheck)


def check_cases(assignment: Assignment, question: Question, spec: CheckSpec, problem=None) -> list:
    """Cases built by the grader's own check, with the notebook's own seeds: the
    same kind of inputs and the same exact expected values as the graded public
    tests, but never the graded cases themselves, so a lookup table of the
    notebook's cases earns nothing."""
    problem = problem if problem is not None else problem_for(assignment, question)
    ctx = CheckContext(assignment, question, problem, box=None, purpose="public")
    return list(CHECKS[spec.check]().cases(ctx, spec))


def encode(value: Any) -> Any:
    """JSON whose only objects are tags, so that decoding is unambiguous. Floats
    are written by repr, which reads back to the same float."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise EmbedError(f"dict keys must be strings: {list(value)[:5]}")
        return {"dict": {k: encode(v) for k, v in value.items()}}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise EmbedError(f"arrays of dtype {value.dtype} cannot be embedded")
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise EmbedError("arrays with NaN or inf cannot be embedded as JSON numbers")
        return {"array": value.tolist(), "dtype": value.dtype.name, "shape": list(value.shape)}
    raise EmbedError(f"values of type {type(value).__name__} cannot be embedded")


def question_data(assignment: Assignment, question: Question) -> dict:
    if question.kind == "manual":
        return {"id": question.id, "title": question.title, "function": "", "manual": True}
    checks, elsewhere, hidden = [], [], 0
    problem = problem_for(assignment, question)
    for spec in question.checks:
        if not is_public(spec):
            hidden += 1
        elif not runs_in_notebook(spec):
            elsewhere.append(spec.label)
        else:
            tol = tolerance(spec)
            cases = []
            for c in check_cases(assignment, question, spec, problem):
                case = {"args": encode(list(c.args)), "expected": encode(c.expected),
                        "magnitude": encode(c.magnitude), "label": c.label}
                if not lenient_at(c, tol):
                    # the grader grants no precision leniency where a known wrong answer is that close
                    case["strict"] = True
                cases.append(case)
            checks.append({"label": spec.label, "rtol": tol.rtol, "kappa": tol.kappa, "cases": cases})
    return {
        "id": question.id, "title": question.title, "function": question.function, "manual": False,
        # what the student writes: `requires` when `function` is the pack's driver
        "functions": list(question.student_functions), "params": list(question.param_names),
        # the grader compares the parameter count only when the question names its parameters
        "check_signature": bool(question.params),
        "outputs": list(question.option("outputs", ())), "hint": question.hint,
        # the role of each axis of an array answer, so that check() names the wrong gate
        # block or time step in the grader's words (grader.compare.locate)
        "layouts": {name: list(roles) for name, roles in problem.layouts.items()},
        "checks": checks, "autograder_only": elsewhere, "hidden": hidden,
    }


def public_tests(assignment: Assignment) -> dict:
    return {"format": FORMAT, "assignment": assignment.name,
            "questions": [question_data(assignment, q) for q in assignment.questions]}


def pack(data: dict) -> str:
    """The public tests as one line for the notebook: base64 of zlib-compressed compact
    JSON, about a third of the pretty-printed size and free of quotes and newlines."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def unpack(packed: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(packed)).decode("utf-8"))


# The one line of a setup cell that carries the packed tests (see build.setup_source).
PACKED = re.compile(r'^check, check_all = _selfcheck\(globals\(\), "([A-Za-z0-9+/=]*)"\)$', re.MULTILINE)


def embedded(setup: str) -> dict:
    """The public tests a setup cell's source carries."""
    found = PACKED.search(setup)
    if found is None:
        raise EmbedError("the setup cell carries no packed public tests")
    return unpack(found.group(1))
