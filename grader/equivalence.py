"""Decide whether a student's expression equals the reference, cheapest argument first.

1. Polynomial identity: the difference expands to 0 with σ(·), tanh(·) and the
   given quantities as atoms. Sound, and it settles almost every correct answer
   written in the homework's vocabulary.
2. A quick probe at a few random points (exact arithmetic): a clear difference
   settles a wrong answer without any algebra.
3. Rewriting in exponentials and cancelling, then SymPy's simplify, time-boxed
   in a killable process (sech², exp forms of σ).
4. Randomised identity testing with mpmath at adaptive precision at 50 points,
   half of them saturated: what is still undecided is decided here.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from reference.symbolic import evaluate as ev

from .problems import ExpressionProblem, seed_for
from .timebox import timeboxed_predicate

RANDOM_POINTS = 50
PROBE_POINTS = 3
AGREEMENT = mpmath.mpf("1e-12")


@dataclass(frozen=True)
class Decision:
    equal: bool
    method: str
    witness: tuple = ()   # the student's float inputs at a point where they differ


def _exact_env(problem: ExpressionProblem, env: dict) -> dict:
    args = [env[s] for s in problem.args_order]
    exact = {s: mpmath.mpf(float(env[s])) for s in problem.args_order}
    exact["dps"] = ev.required_dps(args)
    return exact


def _gap(problem: ExpressionProblem, student: sp.Expr, env: dict) -> mpmath.mpf:
    exact = _exact_env(problem, env)
    with mpmath.workdps(exact["dps"]):
        s = ev.evaluate(student, exact, exact=True)
        r = ev.evaluate(problem.reference, exact, exact=True)
        scale = ev.evaluate(problem.magnitude, exact, exact=True)
        if not mpmath.isfinite(s) or mpmath.im(s) != 0:
            return mpmath.inf
        return abs(s - r) / max(scale, mpmath.mpf(10) ** (-exact["dps"]))


def _points(problem: ExpressionProblem, count: int, tag: str):
    rng = np.random.default_rng(seed_for(problem.assignment.name, problem.question.id, tag))
    for k in range(count):
        yield problem.point(rng, "saturated" if k % 2 else "ordinary")


def _differs(problem, student, count, tag) -> tuple | None:
    for env in _points(problem, count, tag):
        try:
            gap = _gap(problem, student, env)
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            gap = mpmath.inf
        if gap > AGREEMENT:
            return tuple(float(env[s]) for s in problem.args_order)
    return None


def _vanishes(difference: sp.Expr) -> bool:
    """Cheap algebra first, SymPy's general simplifier last; runs in a killable fork."""
    in_exponentials = sp.cancel(sp.expand(difference.rewrite(sp.exp)))
    return in_exponentials == 0 or sp.simplify(in_exponentials) == 0


def decide(problem: ExpressionProblem, student: sp.Expr, simplify_seconds: float = 2.0) -> Decision:
    difference = student - problem.reference
    if sp.expand(difference) == 0:
        return Decision(True, "identical to the reference after expansion")
    witness = _differs(problem, student, PROBE_POINTS, "probe")
    if witness:
        return Decision(False, "differs from the reference at a random point", witness)
    unsupported = difference.free_symbols - set(problem.args_order)
    if not unsupported:
        settled = timeboxed_predicate(lambda: _vanishes(difference), simplify_seconds)
        if settled:
            return Decision(True, "identical to the reference once written with exponentials and simplified")
    witness = _differs(problem, student, RANDOM_POINTS, "random")
    if witness:
        return Decision(False, "differs from the reference at a random point", witness)
    return Decision(True, f"agrees with the reference to 1e-12 at {RANDOM_POINTS} random points "
                          "(exact arithmetic, half of them with saturated gates)")
