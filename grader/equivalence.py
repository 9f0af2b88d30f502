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

The student's expression arrives unevaluated (sandbox/exprtree.py), and every
stage that touches it, down to forming student − reference, runs in a forked
worker with a time limit and an address-space limit (grader/timebox.py): an
expression whose expansion or evaluation would take the machine's memory costs
one killed fork. A stage that gives up passes the question to the next; when
no stage can decide at all, the answer is "undecided", never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from reference.symbolic import evaluate as ev

from .problems import ExpressionProblem, seed_for
from .timebox import MEMORY_BYTES, timeboxed, timeboxed_predicate

RANDOM_POINTS = 50
PROBE_POINTS = 3
AGREEMENT = mpmath.mpf("1e-12")
# Wall time of the expansion stage and of each probing stage. A correct answer
# in the homework's vocabulary expands in well under a second and 50 exact
# evaluations take about as long: these only stop expressions built to explode.
EXPAND_SECONDS = 10.0
EVALUATE_SECONDS = 30.0


@dataclass(frozen=True)
class Decision:
    equal: bool
    method: str
    witness: tuple = ()   # the student's float inputs at a point where they differ
    undecided: bool = False   # no stage finished within its time and memory: ``equal`` is False


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


def _differs(problem, student, count, tag) -> list:
    """The inputs of the first point where they differ, or []. Runs in a fork."""
    for env in _points(problem, count, tag):
        try:
            gap = _gap(problem, student, env)
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            gap = mpmath.inf
        if gap > AGREEMENT:
            return [float(env[s]) for s in problem.args_order]
    return []


def _expands_to_zero(problem: ExpressionProblem, student: sp.Expr) -> bool:
    """Polynomial identity; runs in a fork."""
    return sp.expand(student - problem.reference) == 0


def _vanishes(problem: ExpressionProblem, student: sp.Expr) -> bool:
    """Cheap algebra first, SymPy's general simplifier last; runs in a fork.
    Only for expressions in the problem's own symbols (the rewriting knows no other)."""
    difference = student - problem.reference
    if difference.free_symbols - set(problem.args_order):
        return False
    in_exponentials = sp.cancel(sp.expand(difference.rewrite(sp.exp)))
    return in_exponentials == 0 or sp.simplify(in_exponentials) == 0


def decide(problem: ExpressionProblem, student: sp.Expr, simplify_seconds: float = 2.0, *,
           expand_seconds: float = EXPAND_SECONDS, evaluate_seconds: float = EVALUATE_SECONDS,
           memory_bytes: int = MEMORY_BYTES) -> Decision:
    """Each stage in its own fork, limited to its seconds and to ``memory_bytes``."""
    if timeboxed_predicate(lambda: _expands_to_zero(problem, student), expand_seconds, memory_bytes):
        return Decision(True, "identical to the reference after expansion")
    witness = timeboxed(lambda: _differs(problem, student, PROBE_POINTS, "probe"), evaluate_seconds,
                        memory_bytes)
    if witness:
        return Decision(False, "differs from the reference at a random point", tuple(witness))
    if timeboxed_predicate(lambda: _vanishes(problem, student), simplify_seconds, memory_bytes):
        return Decision(True, "identical to the reference once written with exponentials and simplified")
    witness = timeboxed(lambda: _differs(problem, student, RANDOM_POINTS, "random"), evaluate_seconds,
                        memory_bytes)
    if witness:
        return Decision(False, "differs from the reference at a random point", tuple(witness))
    if witness is None:
        return Decision(False, (f"could not be compared with the reference: evaluating it at "
                                f"{RANDOM_POINTS} points needed more than {evaluate_seconds:g} s or "
                                f"{memory_bytes >> 20} MB; write it in a simpler form"), undecided=True)
    return Decision(True, f"agrees with the reference to 1e-12 at {RANDOM_POINTS} random points "
                          "(exact arithmetic, half of them with saturated gates)")
