"""No trivial answer passes any check of any question of any pack.

For every question, each check is fed, through an in-process stand-in for the
sandbox: 0 (a number, and zeros of the answer's structure), 1, NaN, each input
returned unchanged, and the reference with one path dropped (for expression
questions, as a symbolic expression too, so that the symbolic check sees it).
Every check must fail on every one of them: a check that a trivial answer can
pass gives points for a coincidence. The checks run one by one here, without
the gate of grader.scoring, so that robustness checks are held to it as well.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from grader import load_assignment
from grader.assignment import ASSIGNMENTS_DIR
from grader.checks import CHECKS, CheckContext
from grader.problems import ExpressionProblem, pretty, problem_for
from grader.sandbox import CallResult, ExprTree, Limits, Symbol
from reference.symbolic.primitives import sigmoid

PACKS = sorted(p.parent.name for p in Path(ASSIGNMENTS_DIR).glob("*/assignment.toml"))
UNARY = {sp.exp: "exp", sp.log: "log", sp.tanh: "tanh", sigmoid: "sigmoid"}


def _wire(expr: sp.Expr, names: dict) -> list:
    """A SymPy expression as the sandbox's child would send it back."""
    if expr.is_Symbol:
        return ["Symbol", names[expr]]
    if expr.is_Integer:
        return ["Integer", int(expr)]
    if expr.is_Rational:
        return ["Rational", int(expr.p), int(expr.q)]
    if expr.is_Float:
        return ["Float", float(expr)]
    if expr is sp.E:
        return ["E"]
    if expr.is_Add or expr.is_Mul:
        return ["Add" if expr.is_Add else "Mul", *(_wire(a, names) for a in expr.args)]
    if expr.is_Pow:
        return ["Pow", _wire(expr.base, names), _wire(expr.exp, names)]
    return [UNARY[expr.func], _wire(expr.args[0], names)]


class FakeBox:
    """Calls a Python function in-process and returns what the sandbox would."""

    limits = Limits()

    def __init__(self, fn):
        self.fn = fn

    def call(self, function, args, kwargs=None, *, timeout=None):
        return self.call_many(function, [args])[0]

    def call_many(self, function, arg_lists, *, timeout=None, timeouts=None):
        out = []
        for args in arg_lists:
            value = self.fn(tuple(args))
            if isinstance(value, sp.Expr) and not value.is_Number:
                value = ExprTree.from_wire(_wire(value, {s: s.name for s in value.free_symbols}))
            elif isinstance(value, sp.Expr):
                value = float(value)
            out.append(CallResult("ok", value))
        return out


def _zeros_like(value):
    if isinstance(value, tuple):
        return tuple(_zeros_like(v) for v in value)
    if isinstance(value, np.ndarray):
        return np.zeros_like(value)
    return 0.0


def _all_cases(ctx, spec):
    check = CHECKS[spec.check]()
    return list(check.cases(ctx, spec)) if hasattr(check, "cases") else []


def _trivial_answers(assignment, question):
    """(name, function of the argument tuple) for every trivial answer of ``question``."""
    problem = problem_for(assignment, question)
    ctx = CheckContext(assignment, question, problem, box=None)
    cases = [c for spec in question.checks for c in _all_cases(ctx, spec)]
    by_args = {repr(c.args): c for c in cases}
    structure = cases[0].expected if cases else 0.0

    def lookup(args, pick):
        case = by_args.get(repr(args))
        return pick(case) if case is not None else 0.0

    answers = [("0", lambda a: 0.0), ("1", lambda a: 1.0), ("NaN", lambda a: math.nan),
               ("zeros of the answer's shape", lambda a: lookup(a, lambda c: _zeros_like(c.expected))
                if not isinstance(a[0], Symbol) else 0.0)]
    n_inputs = len(question.params) or len(cases[0].args)
    for k in range(n_inputs):
        name = question.param_names[k] if k < len(question.param_names) else f"input {k + 1}"
        answers.append((f"{name} returned unchanged", lambda a, k=k: a[k]))
    if isinstance(problem, ExpressionProblem):
        inverse = {sym: sp.Symbol(p) for p, sym in problem.bound.items()}
        for sym in problem.grad_inputs:
            if not problem.reference.has(sym):
                continue
            without = problem.reference.subs(sym, 0).xreplace(inverse)

            def dropped(a, without=without, sym=sym):
                if isinstance(a[0], Symbol):
                    return without
                return lookup(a, lambda c: dict(c.dropped)[_dropped_name(sym)])
            answers.append((f"reference without the path of {sym.name}", dropped))
    else:
        # A task lists a dropped path only at the cases where it changes the answer; at the
        # others the submission that drops it returns (to rounding) the right value.
        names = {name for c in cases for name, _ in c.dropped}
        for name in sorted(names):
            answers.append((f"reference {name}", lambda a, name=name: lookup(a, lambda c: dict(c.dropped).get(name, c.expected))))
    return answers, structure


def _dropped_name(sym):
    name = pretty(sym.name)
    return f"without the path through {name.lstrip('∇')} (the term with {name})"


def _questions():
    for pack in PACKS:
        assignment = load_assignment(pack)
        for q in assignment.auto_questions:
            yield pytest.param(pack, q.id, id=f"{pack}-{q.id}")


@pytest.mark.slow
@pytest.mark.parametrize("pack, qid", list(_questions()))
def test_every_trivial_answer_fails_every_check(pack, qid):
    assignment = load_assignment(pack)
    question = assignment.question(qid)
    problem = problem_for(assignment, question)
    answers, _ = _trivial_answers(assignment, question)
    passed = []
    for name, fn in answers:
        ctx = CheckContext(assignment, question, problem, FakeBox(fn))
        for spec in question.checks:
            verdict = CHECKS[spec.check]().run(ctx, spec)
            if verdict.passed:
                passed.append(f"{name}: {spec.label} passed: {verdict.messages}")
    assert not passed, "\n".join(passed)


def test_the_stand_in_grades_the_reference_as_right():
    """The harness itself can pass: the exact expected values, handed back, pass every numeric check."""
    assignment = load_assignment("lstm_scalar")
    question = assignment.question("q8")
    problem = problem_for(assignment, question)
    ctx = CheckContext(assignment, question, problem, None)
    spec = next(s for s in question.checks if s.check == "numeric")
    by_args = {repr(c.args): c.expected for c in CHECKS["numeric"]().cases(ctx, spec)}
    verdict = CHECKS["numeric"]().run(CheckContext(assignment, question, problem,
                                                   FakeBox(lambda a: by_args[repr(a)])), spec)
    assert verdict.passed and verdict.messages == ("correct at ordinary inputs (10 of 10 cases)",)
