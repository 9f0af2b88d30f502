"""The student's gradient against central finite differences of the reference forward pass."""
from __future__ import annotations

from ..assignment import CheckSpec
from .base import Check, CheckContext, Verdict, run_cases, summarize, tolerance


class GradCheck(Check):
    """The answer against finite differences of the exact forward pass alone, an
    oracle that shares no code with the backward pass it checks. The differences
    are taken in mpmath once per case (and cached), accurate to 1e-20 relative,
    so the tolerance is the same as the numeric check's: the oracle is far more
    exact than anything it is compared with."""

    name = "gradcheck"
    kinds = ("task",)

    @classmethod
    def unsuitable(cls, problem, spec: CheckSpec) -> str | None:
        reason = super().unsuitable(problem, spec)
        if not reason and not problem.task.supports_gradcheck:
            return "the task has no finite-difference oracle"
        return reason

    def cases(self, ctx: CheckContext, spec: CheckSpec):
        return ctx.problem.gradcheck_cases(int(spec.option("points", 4)), ctx.seed(self.name))

    def run(self, ctx: CheckContext, spec: CheckSpec) -> Verdict:
        outcomes = run_cases(ctx, self.cases(ctx, spec), tolerance(spec))
        return summarize(outcomes, hidden=True, phrases=ctx.problem.phrases)
