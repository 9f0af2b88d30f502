"""Float64 evaluation at seeded random inputs, ordinary and near saturation."""
from __future__ import annotations

from ..assignment import CheckSpec
from ..compare import as_number
from ..diagnose import diagnose
from ..problems import ExpressionProblem
from ..compare import compare
from ..regimes import DECIDING, phrase
from .base import Check, CheckContext, Verdict, run_cases, summarize, tolerance


class NumericCheck(Check):
    name = "numeric"
    default_regimes = ("ordinary", "saturated")

    @classmethod
    def unsuitable(cls, problem, spec: CheckSpec) -> str | None:
        reason = super().unsuitable(problem, spec)
        regimes = spec.option("regimes", cls.default_regimes)
        if not reason and not isinstance(problem, ExpressionProblem):
            missing = [r for r in regimes if r not in problem.task.regimes]
            if missing:
                return f"task has no {missing} cases"
        return reason

    def cases(self, ctx: CheckContext, spec: CheckSpec):
        regimes = spec.option("regimes", self.default_regimes)
        count = int(spec.option("points", 20))
        per = max(1, count // len(regimes))
        out = []
        for regime in regimes:
            out.extend(ctx.problem.cases(regime, per, ctx.seed(self.name, regime)))
        return out

    def run(self, ctx: CheckContext, spec: CheckSpec) -> Verdict:
        outcomes = run_cases(ctx, self.cases(ctx, spec), tolerance(spec))
        verdict = summarize(outcomes, spec.hidden, ctx.question.param_names, ctx.problem.phrases)
        if isinstance(ctx.problem, ExpressionProblem):
            verdict = Verdict(verdict.fraction, verdict.messages + tuple(self._diagnosis(ctx, outcomes)))
        else:
            verdict = Verdict(verdict.fraction, verdict.messages + tuple(self._known_mistake(ctx, outcomes, spec)))
        return verdict

    @staticmethod
    def _known_mistake(ctx: CheckContext, outcomes, spec: CheckSpec) -> list[str]:
        """Name the mistake when a wrong answer at ordinary inputs is exactly the
        reference with one path dropped: a diagnosis, not a guess."""
        tol = tolerance(spec)
        for o in outcomes:
            if o.mismatch is None or o.mismatch.kind != "value" or o.case.regime != DECIDING:
                continue
            for name, value in o.case.dropped:
                if compare(o.result.value, value, o.case.magnitude, tol) is None:
                    return [f"{phrase(o.case.regime, ctx.problem.phrases)}, your answer is the right one "
                            f"with one mistake: {name}"]
            return []
        return []

    @staticmethod
    def _diagnosis(ctx: CheckContext, outcomes) -> list[str]:
        # Only ordinary inputs can tell which path is wrong: where gates saturate, a
        # right term and a wrong one may both vanish.
        wrong = next((o for o in outcomes if o.mismatch is not None and o.mismatch.kind == "value"
                      and o.case.regime == DECIDING), None)
        if wrong is None:
            return []

        def student(arg_lists):
            return [as_number(r.value) if r.status == "ok" else None for r in ctx.call_many(arg_lists)]

        return diagnose(ctx.problem, student, wrong.case.args, ctx.problem.phrases[wrong.case.regime])


class StabilityCheck(NumericCheck):
    """The regimes where BPTT breaks if written carelessly: long sequences with
    forget gates ≈ 1 and input gates ≈ 0, and gates saturated up to |z| = 1000.
    NaN, inf and overflow warnings fail with their own message."""

    name = "stability"
    kinds = ("task",)
    default_regimes = ("stability", "extreme")

    def cases(self, ctx: CheckContext, spec: CheckSpec):
        regimes = [r for r in spec.option("regimes", self.default_regimes) if r in ctx.problem.task.regimes]
        count = int(spec.option("points", 2))
        return [c for r in regimes for c in ctx.problem.cases(r, count, ctx.seed(self.name, r))]
