"""Shared helpers for the sandbox tests: short limits so that every hostile
case finishes in a second or two, and a factory that always closes."""
from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from grader.sandbox import Limits, Sandbox
from grader.source import CodeCell

FAST = Limits(cell_timeout=1.0, call_timeout=1.0, setup_timeout=10.0, grace=0.5)


def cells(*sources: str, first: int = 1) -> list[CodeCell]:
    """Number cells first, first+1, ...; sources are dedented."""
    return [CodeCell(first + i, textwrap.dedent(src)) for i, src in enumerate(sources)]


@pytest.fixture
def make_sandbox():
    made: list[Sandbox] = []

    def make(*sources: str, limits: Limits = FAST, **kwargs) -> Sandbox:
        box = Sandbox(cells(*sources), limits=limits, **kwargs)
        box.prepare()  # the template's start-up is the grader's, outside every timing here
        made.append(box)
        return box

    yield make
    for box in made:
        box.close()


@pytest.fixture
def secret_dir(tmp_path):
    """A protected directory holding a file the student must not read."""
    root = tmp_path / "reference"
    root.mkdir()
    (root / "solution.py").write_text("ANSWER = 42\n")
    return root


def same(a, b) -> bool:
    """Equality that also checks types, nan, the sign of zero and array dtypes."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


# Every plain type the boundary carries, as (id, value).
PLAIN_VALUES = [
    ("none", None), ("true", True), ("false", False), ("zero", 0), ("negative", -7),
    ("big-int", 2 ** 200), ("big-negative-int", -(10 ** 300)), ("float", 0.1),
    ("negative-zero", -0.0), ("nan", float("nan")), ("inf", float("inf")),
    ("minus-inf", float("-inf")), ("tiny", 5e-324), ("str", "héllo \u2603 \x00 \"quoted\""),
    ("empty-str", ""), ("list", [1, 2.5, "x", None]), ("tuple", (1, (2, (3,)))),
    ("empty-tuple", ()), ("dict", {"a": 1, "b": [1, {"c": (2.0, float("nan"))}]}),
    ("empty-dict", {}), ("complex", 1.5 - 2j), ("complex-nan", complex(float("nan"), -0.0)),
    ("float64-array", np.array([[1.0, np.nan], [np.inf, -0.0]])),
    ("float32-array", np.arange(6, dtype=np.float32).reshape(2, 3) / 7),
    ("float16-array", np.array([0.5, 1.5], dtype=np.float16)),
    ("int64-array", np.array([2 ** 62, -(2 ** 63)], dtype=np.int64)),
    ("uint8-array", np.arange(256, dtype=np.uint8)), ("bool-array", np.array([True, False, True])),
    ("complex-array", np.array([1 + 2j, np.nan - 1j], dtype=np.complex128)),
    ("complex64-array", np.array([3 - 4j], dtype=np.complex64)),
    ("scalar-array", np.array(3.25)), ("empty-array", np.zeros((0, 3))),
    ("fortran-array", np.asfortranarray(np.arange(6.0).reshape(2, 3))),
    ("nested", [{"w": np.eye(2), "b": (np.zeros(2, dtype=np.int32), [True])}]),
]
