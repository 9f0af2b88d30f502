"""Call the student's function with symbols and decide equivalence with the derived reference."""
from __future__ import annotations

import sympy as sp

from ..assignment import CheckSpec
from ..compare import as_number
from ..diagnose import diagnose
from ..equivalence import decide
from ..problems import SYMPY_FUNCTIONS, Case, ExpressionProblem
from ..sandbox import ExprTree, ExprTreeError, Symbol, to_sympy
from .base import Check, CheckContext, Verdict, run_cases, summarize, tolerance

FALLBACK_POINTS = 30
# Many students write the very same formula: a decision is kept per expression tree
# (the plain data the child sent), so the second one costs a dictionary look-up.
_DECISIONS: dict = {}
MAX_DECISIONS = 4096


def _decided(ctx: CheckContext, value, decide_now):
    """``decide_now()``, or the decision already taken for the same tree of the same question."""
    if not isinstance(value, ExprTree):
        return decide_now()
    key = (ctx.assignment.name, ctx.assignment.root, ctx.question, value.tree)
    decision = _DECISIONS.get(key)
    if decision is None:
        decision = decide_now()
        if len(_DECISIONS) >= MAX_DECISIONS:
            _DECISIONS.pop(next(iter(_DECISIONS)))   # the oldest: insertion order
        _DECISIONS[key] = decision
    return decision


class SymbolicCheck(Check):
    name = "symbolic"
    kinds = ("expression",)

    def run(self, ctx: CheckContext, spec: CheckSpec) -> Verdict:
        problem: ExpressionProblem = ctx.problem
        result = ctx.box.call(ctx.question.function, [Symbol(n) for n in ctx.question.param_names])
        if result.status == "ok":
            expr = self._expression(problem, result.value)
            if expr is None:
                return Verdict(0.0, ("returned something that is neither a number nor an expression "
                                     "in the function's parameters",))
            decision = _decided(ctx, result.value, lambda: decide(problem, expr))
            if decision.equal:
                return Verdict(1.0, (f"symbolically equivalent to the reference: {decision.method}",))
            if decision.undecided:
                # too big to compare in time: graded at numeric points, as a function
                # that does not accept symbols is, rather than guessed
                return self._numeric_fallback(ctx, spec, "could not be checked symbolically: its expression is "
                                              "too large to compare with the reference in time",
                                              "Writing it in a simpler form lets it be checked symbolically.")
            messages = ["not equivalent to the reference: it " + decision.method]
            messages += self._diagnosis(ctx, decision.witness)
            return Verdict(0.0, tuple(messages))
        if result.status in ("error", "bad-return"):
            # Many correct functions do not accept symbols (np.tanh, math.exp, an `if`
            # on a value): they are graded at more numeric points, never penalised.
            return self._numeric_fallback(ctx, spec, f"could not be checked symbolically (with symbols it "
                                              f"{result.message})", "Write it with the notebook's sigmoid and "
                                              "tanh helpers to have it checked symbolically.")
        return Verdict(0.0, (f"could not be checked: when called with symbols it {result.message}",))

    @staticmethod
    def _expression(problem: ExpressionProblem, value) -> sp.Expr | None:
        if isinstance(value, ExprTree):
            try:
                return to_sympy(value, problem.student_symbols(), SYMPY_FUNCTIONS)
            except ExprTreeError:
                return None
        number = as_number(value)
        return None if number is None else sp.Float(number)

    @staticmethod
    def _diagnosis(ctx: CheckContext, witness: tuple) -> list[str]:
        """Trace the wrong path at the witness point, calling the student's own
        function in the sandbox: the grader never evaluates a student's expression."""
        if not witness:
            return []

        def student(arg_lists):
            return [as_number(r.value) if r.status == "ok" else None for r in ctx.call_many(arg_lists)]

        return diagnose(ctx.problem, student, witness, "at random inputs")

    def _numeric_fallback(self, ctx: CheckContext, spec: CheckSpec, why: str, advice: str) -> Verdict:
        """Not every correct function accepts symbols (np.tanh does not): grade it at
        more numeric points instead of penalising it, and say so."""
        cases: list[Case] = []
        for regime in ("ordinary", "saturated"):
            cases += ctx.problem.cases(regime, FALLBACK_POINTS // 2, ctx.seed(self.name, "fallback", regime))
        verdict = summarize(run_cases(ctx, cases, tolerance(spec)), spec.hidden, ctx.question.param_names,
                            ctx.problem.phrases)
        note = f"{why}; it was checked at {len(cases)} more numeric points instead. {advice}"
        return Verdict(verdict.fraction, (note,) + verdict.messages)
