"""The student's gradient against central finite differences of the reference forward pass."""
from __future__ import annotations

import numpy as np

from ..assignment import CheckSpec
from ..compare import Tolerance
from ..problems import Case
from .base import Check, CheckContext, Verdict, run_cases, summarize

# Central differences with h ≈ 1e-6 are good to about 1e-9 relative; the
# tolerance sits well above that and well below any real mistake.
FD_RTOL = 1e-6


def _absolute(value):
    """|value| with the structure kept: a tuple of outputs of different shapes stays a tuple."""
    if isinstance(value, tuple):
        return tuple(_absolute(v) for v in value)
    return np.abs(value)


class GradCheck(Check):
    name = "gradcheck"
    kinds = ("task",)

    @classmethod
    def unsuitable(cls, problem, spec: CheckSpec) -> str | None:
        reason = super().unsuitable(problem, spec)
        if not reason and not getattr(problem.task, "supports_gradcheck", False):
            return "the task has no finite-difference oracle"
        return reason

    def run(self, ctx: CheckContext, spec: CheckSpec) -> Verdict:
        count = int(spec.option("points", 4))
        base = ctx.problem.cases("ordinary", count, ctx.seed(self.name))
        cases = []
        for c in base:
            fd = ctx.problem.task.finite_difference(c.args)
            cases.append(Case(c.regime, c.args, fd, _absolute(fd), c.label + " (against finite differences)"))
        outcomes = run_cases(ctx, cases, Tolerance(rtol=float(spec.option("rtol", FD_RTOL)), kappa=0.0))
        return summarize(outcomes, hidden=True, phrases=ctx.problem.phrases)
