"""Every case an assignment's task checks draw, with the checks' own seeds and counts.

Shared by the task tests, so that what they assert (exactness, finite-difference
accuracy, trivial answers failing) holds at the very cases the packs grade and
publish, not at cases of the tests' own choosing.
"""
from __future__ import annotations

from pathlib import Path

from grader import load_assignment
from grader.problems import seed_for
from grader.tasks import TASKS


def assignment_plan(pack: Path) -> list[tuple[str, str, str, int, int]]:
    """(check, task, regime, seed, count) of every case the pack's checks draw,
    graded and public, with the seeds and counts of grader/checks/*.py."""
    a = load_assignment(pack)
    plan = []
    for q in a.questions:
        if q.kind != "task":
            continue

        def seed(*parts, q=q):
            return seed_for(a.name, a.seed, q.id, *parts)

        for spec in q.checks:
            points = int(spec.option("points", 0))
            if spec.check == "numeric":
                regimes = spec.option("regimes", ("ordinary", "saturated"))
                for r in regimes:
                    plan.append(("numeric", q.task, r, seed("numeric", r), max(1, points // len(regimes))))
                    if not spec.hidden:
                        plan.append(("numeric", q.task, r, seed("public", "numeric", r),
                                     max(1, points // len(regimes))))
            elif spec.check == "stability":
                for r in spec.option("regimes", ("stability", "extreme")):
                    if r in TASKS[q.task].regimes:
                        plan.append(("stability", q.task, r, seed("stability", r), points))
            elif spec.check == "gradcheck":
                plan.append(("gradcheck", q.task, "ordinary", seed("gradcheck"), points))
    return plan
