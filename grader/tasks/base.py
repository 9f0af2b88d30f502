"""The one protocol every numeric task follows.

A task turns a seeded generator into test cases. Only the random leaves
(weights, inputs, upstream gradients, initial states) come from the generator;
every derived input (gates, states, outputs), expected value, magnitude and
finite difference is computed in exact arithmetic (mpmath) and rounded to
float64 once, so no CPU's exp, tanh or BLAS can change a graded number.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

from ..compare import Tolerance, norm


@dataclass(frozen=True)
class TaskCase:
    args: tuple                  # what the student's function receives: plain floats, arrays, dicts
    expected: Any                # float, array, or tuple of those: exact, rounded once
    magnitude: Any               # same structure: the scale of a correct float64 answer's rounding
    label: str                   # "T = 5, n = 3, gates saturated (...)": what a student can read
    cost: float = 1.0            # work of the case in cell steps (sequence length × batch), for time limits
    # Answers a correct one must not be confused with, by name ("no path through C_{t+1}"):
    # the reference with one path dropped, exact and rounded once. Used by the tests of
    # trivial answers and by the diagnosis of task questions.
    dropped: tuple[tuple[str, Any], ...] = ()


@runtime_checkable
class Task(Protocol):
    regimes: ClassVar[tuple[str, ...]]
    phrases: ClassVar[Mapping[str, str]]     # regime -> words, where the task's differ from grader.regimes
    supports_gradcheck: ClassVar[bool]
    # output name ("" for a single one) -> the role of each axis ("gates:ifog", "time", None),
    # so that a wrong array names its wrong gate block or time step
    layouts: ClassVar[Mapping[str, tuple]]

    def case(self, rng, regime: str) -> TaskCase:
        """One case of ``regime``, drawn from ``rng``."""


@runtime_checkable
class GradcheckTask(Task, Protocol):
    """A task with a finite-difference oracle (``supports_gradcheck = True``)."""

    def finite_difference(self, args) -> Any:
        """The answer at ``args`` by central differences of the exact forward pass
        (mpmath), rounded once; only for tasks that support gradcheck."""


def distinct(expected, magnitude, candidates, tol: Tolerance = Tolerance()) -> tuple:
    """The (name, value) candidates that a correct answer cannot be confused with
    at this case: off by more than twice the grader's bound in some output. A
    dropped path that changes nothing at this case (a forget gate at 1 - 1e-87
    left out) is no mistake here and is not listed. Norms are math.fsum's:
    the same verdict on every CPU."""
    def apart(got, e, m) -> bool:
        if isinstance(e, tuple):
            return any(apart(g, ee, mm) for g, ee, mm in zip(got, e, m))
        err = norm(np.asarray(got, dtype=float) - np.asarray(e, dtype=float))
        return err > 2 * tol.bound(norm(e), norm(m))
    return tuple((name, value) for name, value in candidates if apart(value, expected, magnitude))


def filled(structure, value: float):
    """``structure`` (a number, an array or a tuple of those) with every entry ``value``."""
    if isinstance(structure, tuple):
        return tuple(filled(x, value) for x in structure)
    return np.full(np.shape(structure), value)


def trivial_answers(args, expected):
    """Answers that are no work at all: zeros and ones of the expected structure,
    and any argument shaped like the answer returned unchanged."""
    out = [("zeros", filled(expected, 0.0)), ("ones", filled(expected, 1.0))]
    for k, a in enumerate(args):
        if not isinstance(expected, tuple) and np.shape(a) == np.shape(expected):
            out.append((f"argument {k} unchanged", a))
    return out


def testable(case: TaskCase) -> bool:
    """Whether no trivial answer passes at this case. Where saturation leaves the
    answer within rounding of 0 (or of an input), no formula can be told from
    `return 0`: such a case is drawn again, as expression questions do."""
    candidates = trivial_answers(case.args, case.expected)
    return len(distinct(case.expected, case.magnitude, candidates)) == len(candidates)


MAX_DRAWS = 1000


def draw_testable(draw, rng, regime: str) -> TaskCase:
    """``draw(rng, regime)`` until its case is testable."""
    for _ in range(MAX_DRAWS):
        case = draw(rng, regime)
        if testable(case):
            return case
    raise RuntimeError(f"no testable {regime} case in {MAX_DRAWS} draws")
