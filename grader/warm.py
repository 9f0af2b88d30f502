"""Compute, once, every case an assignment's checks will use, into the disk cache.

Gradescope builds a fresh container per assignment and grades each submission
in a new process: without this, every submission would recompute the exact
cases (seconds for the T = 1,000 ones). setup.sh runs `python -m grader.warm
ASSIGNMENT` once, so each submission loads them in milliseconds.
"""
from __future__ import annotations

import sys
import time

from .assignment import load_assignment
from .checks import CHECKS, CheckContext
from .checks.symbolic import FALLBACK_POINTS
from .problems import problem_for


def warm(name: str) -> int:
    """Every case of every check of ``name`` (graded and the notebook's public ones); returns the count."""
    assignment = load_assignment(name)
    count = 0
    for question in assignment.auto_questions:
        problem = problem_for(assignment, question)
        for purpose in ("grade", "public"):
            ctx = CheckContext(assignment, question, problem, box=None, purpose=purpose)
            for spec in question.checks:
                check = CHECKS[spec.check]()
                if spec.check == "symbolic":
                    # the numeric fallback for answers that do not accept symbols
                    for regime in ("ordinary", "saturated"):
                        count += len(problem.cases(regime, FALLBACK_POINTS // 2,
                                                   ctx.seed("symbolic", "fallback", regime)))
                else:
                    count += len(check.cases(ctx, spec))
    return count


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:])
    if not names:
        print("usage: python -m grader.warm ASSIGNMENT...", file=sys.stderr)
        return 2
    for name in names:
        t0 = time.perf_counter()
        n = warm(name)
        print(f"{name}: {n} cases ready ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
