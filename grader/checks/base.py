"""What every check shares: its context, its verdict, and running cases through the sandbox."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from ..assignment import Assignment, CheckSpec, Question
from ..compare import PRECISION, Mismatch, Tolerance, compare
from ..problems import Case, ExpressionProblem, seed_for
from ..regimes import DECIDING, deciding, phrase
from ..sandbox import CallResult, Sandbox
from ..tasks.base import filled

# A case's time limit grows with its work (cell steps), so that a correct but slow
# implementation of a T = 1,000 sequence is not cut off at the limit of a T = 5 one.
SECONDS_PER_STEP = 0.01
MAX_NOTES = 3   # distinct notes per kind of input


@dataclass(frozen=True)
class CheckContext:
    assignment: Assignment
    question: Question
    problem: Any
    box: Sandbox
    # "grade" or "public": the notebook's self-check cases come from their own seeds,
    # so a lookup table of them earns nothing from the graded ones.
    purpose: str = "grade"

    def call_many(self, arg_lists: Sequence[tuple], costs: Sequence[float] = ()) -> list[CallResult]:
        timeouts = [self.box.limits.call_timeout + SECONDS_PER_STEP * c for c in costs] if costs else None
        return self.box.call_many(self.question.function, [list(a) for a in arg_lists], timeouts=timeouts)

    def seed(self, *parts) -> int:
        extra = ("public",) if self.purpose == "public" else ()
        return seed_for(self.assignment.name, self.assignment.seed, self.question.id, *extra, *parts)


@dataclass(frozen=True)
class Verdict:
    fraction: float                    # share of the cases that passed
    messages: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.fraction >= 1.0


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: CallResult
    mismatch: Mismatch | None
    notes: tuple[str, ...] = ()        # leniencies granted to a passing case, and in-place changes


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

    @classmethod
    def regimes(cls, spec: CheckSpec) -> tuple[str, ...]:
        return tuple(spec.option("regimes", getattr(cls, "default_regimes", (DECIDING,))))

    @classmethod
    def decides(cls, spec: CheckSpec) -> bool:
        """Whether this check decides right or wrong (it sees ordinary inputs), as
        opposed to scoring the robustness of a formula already right."""
        return deciding(cls.regimes(spec))


def tolerance(spec: CheckSpec, default_rtol: float = 1e-9) -> Tolerance:
    return Tolerance(rtol=float(spec.option("rtol", default_rtol)), kappa=float(spec.option("kappa", 256.0)))


def lenient_at(case: Case, tol: Tolerance) -> bool:
    """Whether the precision leniency (1e-6 relative) can be granted at ``case``: not
    where a known wrong answer (the reference with a path dropped, 0, an input
    returned unchanged) is itself that close to the expected value, as when a
    forget gate of 1 - 1e-8 makes `return f_t` look right to 8 digits."""
    known = _LENIENT.get(id(case))
    if known is not None and known[0] is case and known[1] == tol:
        return known[2]
    wrongs = [value for _, value in case.dropped] + [filled(case.expected, 0.0)]
    wrongs += [a for a in case.args if _same_structure(a, case.expected)]
    answer = all(compare(w, case.expected, case.magnitude, tol) is not None for w in wrongs)
    _LENIENT[id(case)] = (case, tol, answer)   # cases live for the process: computed once, not per submission
    return answer


_LENIENT: dict[int, tuple] = {}


def _same_structure(a, e) -> bool:
    if isinstance(e, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == e.shape
    return isinstance(e, float) and isinstance(a, float)


def judge(result: CallResult, expected: Any, magnitude: Any, tol: Tolerance,
          names: tuple[str, ...] = (), outputs: tuple[str, ...] = (),
          layouts: dict | None = None, lenient: bool = True) -> tuple[Mismatch | None, tuple[str, ...]]:
    """Why a call's result fails (or None), and the notes of a pass. Errors and
    numerical warnings fail before the value is looked at. An in-place change of
    an input is a note when the returned value is right anyway (the caller never
    reads the input again), and part of the reason when it is not."""
    if result.status != "ok":
        return Mismatch(result.status, result.message), ()
    if result.warnings:
        return Mismatch("warning", f"raised a numerical warning ({result.warnings[0]}): "
                                   "compute it in a numerically stable way"), ()
    notes: list[str] = []
    mismatch = compare(result.value, expected, magnitude, tol, outputs, notes, layouts,
                       PRECISION if lenient else 0.0)
    if result.mutated:
        which = ", ".join(names[k] if k < len(names) else f"argument {k + 1}" for k in result.mutated)
        if mismatch is None:
            notes.append(f"changed its input ({which}) in place; the values it returned are right, but a caller "
                         "that reads that input again would see it changed: work on a copy")
        else:
            mismatch = Mismatch(mismatch.kind, f"{mismatch.message} (it also changed its input ({which}) in "
                                               "place, which may be why)", mismatch.error)
    return mismatch, tuple(notes)


def run_cases(ctx: CheckContext, cases: Sequence[Case], tol: Tolerance) -> list[Outcome]:
    results = ctx.call_many([c.args for c in cases], [c.cost for c in cases])
    names = ctx.question.param_names
    outputs = tuple(ctx.question.option("outputs", ()))
    layouts = ctx.problem.layouts
    return [Outcome(case, result, *judge(result, case.expected, case.magnitude, tol, names, outputs, layouts,
                                         lenient_at(case, tol)))
            for case, result in zip(cases, results)]


def summarize(outcomes: Sequence[Outcome], hidden: bool, param_names: Sequence[str] = (),
              phrases: dict | None = None) -> Verdict:
    """One line per kind of input: all correct, or how many failed and why."""
    messages = []
    by_regime: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_regime.setdefault(o.case.regime, []).append(o)
    for regime, group in by_regime.items():
        words = phrase(regime, phrases)
        bad = [o for o in group if o.mismatch is not None]
        # Each distinct leniency once (its first case), so that a shape note does not hide
        # an in-place note; the numbers in them (shapes) vary, so the kind is the key.
        firsts: dict[str, tuple[str, Outcome, int]] = {}
        for o in group:
            for note in (o.notes if o.mismatch is None else ()):
                key = _note_kind(note)
                seen = firsts.get(key)
                firsts[key] = (note, o, 1) if seen is None else (seen[0], seen[1], seen[2] + 1)
        for note, first, count in list(firsts.values())[:MAX_NOTES]:
            more = f" (and {count - 1} more case(s))" if count > 1 else ""
            label = f" [{first.case.label}]" if first.case.label else ""
            messages.append(f"note {words}: {note}{label}{more}")
        if not bad:
            messages.append(f"correct {words} ({len(group)} of {len(group)} cases)")
            continue
        first = bad[0]
        detail = first.mismatch.message
        if first.case.label:
            detail += f" [{first.case.label}]"
        if not hidden and first.mismatch.kind == "value" and _printable(first.case):
            inputs = ", ".join(f"{n}={v:.6g}" for n, v in zip(param_names, first.case.args))
            detail += f"; for {inputs} the expected value is {first.case.expected:.10g}, " \
                      f"yours is {_number(first.result.value)}"
        messages.append(f"wrong {words}: {len(bad)} of {len(group)} cases failed; first: {detail}")
    passed = sum(o.mismatch is None for o in outcomes)
    return Verdict(passed / len(outcomes) if outcomes else 0.0, tuple(messages))


def _note_kind(note: str) -> tuple[str, ...]:
    """A note's kind, whatever its numbers: its output's name and first two words
    ("db", "returned", "shape"), so the same leniency at other sizes counts once."""
    label, sep, rest = note.partition(": ")
    if not sep or " " in label:
        label, rest = "", note
    return (label, *rest.split()[:2])


def _printable(case: Case) -> bool:
    """Scalar in, scalar out: short enough to show the student the failing case."""
    return all(isinstance(a, float) for a in case.args) and len(case.args) <= 16 and isinstance(case.expected, float)


def _number(value) -> str:
    try:
        return f"{float(value):.10g}"
    except (TypeError, ValueError):
        return repr(value)[:40]
