"""What every check shares: its context, its verdict, and running cases through the sandbox."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from ..assignment import Assignment, CheckSpec, Question
from ..compare import Mismatch, Tolerance, compare
from ..problems import REGIME_PHRASES, Case, ExpressionProblem, seed_for
from ..sandbox import CallResult, Sandbox



@dataclass(frozen=True)
class CheckContext:
    assignment: Assignment
    question: Question
    problem: Any
    box: Sandbox

    def call_many(self, arg_lists: Sequence[tuple]) -> list[CallResult]:
        return self.box.call_many(self.question.function, [list(a) for a in arg_lists])

    def seed(self, *parts) -> int:
        return seed_for(self.assignment.name, self.assignment.seed, self.question.id, *parts)


@dataclass(frozen=True)
class Verdict:
    fraction: float
    messages: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: CallResult
    mismatch: Mismatch | None


class Check:
    name: ClassVar[str]
    kinds: ClassVar[tuple[str, ...]] = ("expression", "task")

    @classmethod
    def unsuitable(cls, problem, spec: CheckSpec) -> str | None:
        kind = "expression" if isinstance(problem, ExpressionProblem) else "task"
        if kind not in cls.kinds:
            return f"does not apply to {kind} questions"
        return None

    def run(self, ctx: CheckContext, spec: CheckSpec) -> Verdict:
        raise NotImplementedError


def tolerance(spec: CheckSpec, default_rtol: float = 1e-9) -> Tolerance:
    return Tolerance(rtol=float(spec.option("rtol", default_rtol)), kappa=float(spec.option("kappa", 256.0)))


def judge(result: CallResult, expected: Any, magnitude: Any, tol: Tolerance,
          names: tuple[str, ...] = (), outputs: tuple[str, ...] = ()) -> Mismatch | None:
    """Why a call's result fails, or None. Errors, warnings and in-place changes
    of the inputs fail before the value is even looked at."""
    if result.status != "ok":
        return Mismatch(result.status, result.message)
    if result.warnings:
        return Mismatch("warning", f"raised a numerical warning ({result.warnings[0]}): "
                                   "compute it in a numerically stable way")
    if result.mutated:
        which = ", ".join(names[k] if k < len(names) else f"argument {k + 1}" for k in result.mutated)
        return Mismatch("mutated", f"changed its input ({which}) in place; work on a copy")
    return compare(result.value, expected, magnitude, tol, outputs)


def run_cases(ctx: CheckContext, cases: Sequence[Case], tol: Tolerance) -> list[Outcome]:
    results = ctx.call_many([c.args for c in cases])
    names = ctx.question.param_names
    outputs = tuple(ctx.question.option("outputs", ()))
    return [Outcome(case, result, judge(result, case.expected, case.magnitude, tol, names, outputs))
            for case, result in zip(cases, results)]


def summarize(outcomes: Sequence[Outcome], hidden: bool, param_names: Sequence[str] = (),
              phrases: dict | None = None) -> Verdict:
    """One line per kind of input: all correct, or how many failed and why."""
    messages = []
    by_regime: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_regime.setdefault(o.case.regime, []).append(o)
    for regime, group in by_regime.items():
        phrase = (phrases or REGIME_PHRASES).get(regime, regime)
        bad = [o for o in group if o.mismatch is not None]
        if not bad:
            messages.append(f"correct {phrase} ({len(group)} of {len(group)} cases)")
            continue
        first = bad[0]
        detail = first.mismatch.message
        if first.case.label:
            detail += f" [{first.case.label}]"
        if not hidden and first.mismatch.kind == "value" and _printable(first.case):
            inputs = ", ".join(f"{n}={v:.6g}" for n, v in zip(param_names, first.case.args))
            detail += f"; for {inputs} the expected value is {first.case.expected:.10g}, " \
                      f"yours is {_number(first.result.value)}"
        messages.append(f"wrong {phrase}: {len(bad)} of {len(group)} cases failed; first: {detail}")
    passed = sum(o.mismatch is None for o in outcomes)
    return Verdict(passed / len(outcomes) if outcomes else 0.0, tuple(messages))


def _printable(case: Case) -> bool:
    """Scalar in, scalar out: short enough to show the student the failing case."""
    return all(isinstance(a, float) for a in case.args) and len(case.args) <= 16 and isinstance(case.expected, float)


def _number(value) -> str:
    try:
        return f"{float(value):.10g}"
    except (TypeError, ValueError):
        return repr(value)[:40]
