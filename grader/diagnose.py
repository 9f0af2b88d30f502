"""Name the path a wrong gradient gets wrong.

Every reference gradient is linear in the upstream gradients the question hands
out (∇y_t, ∇C_{t+1}, ∇f_{t+1}, ...): it is a sum of one term per path. Setting
one upstream gradient to 1 and the others to 0 isolates that path's term, in
the student's answer and in the reference alike, so a wrong answer can be
traced to the path it drops, adds or gets wrong, without revealing any formula.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .problems import ExpressionProblem, pretty

Evaluate = Callable[[Sequence[tuple]], list]
# Term by term, a right answer agrees with the reference to rounding; this is far
# above rounding and far below any wrong coefficient at ordinary inputs.
AGREE = 1e-6


def _close(a: float, b: float, scale: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), scale, 1e-300)


def diagnose(problem: ExpressionProblem, student: Evaluate, base: tuple, where: str) -> list[str]:
    """Messages for one wrong answer at the (ordinary) inputs ``base``. ``student``
    evaluates the student's function at a batch of argument tuples (None where it
    failed). Each message says only what the probes establish: a path is called
    missing only when the student's term is exactly zero while the reference's is
    not, and present-but-unreachable only when the reference has no such term at all."""
    grads = [k for k, s in enumerate(problem.args_order) if s in set(problem.grad_inputs) | _seed_inputs(problem)]
    if not grads:
        return []
    probes = []
    for k in [None, *grads]:
        args = list(base)
        for j in grads:
            args[j] = 1.0 if j == k else 0.0
        probes.append(tuple(args))
    got = student(probes)
    if any(g is None or not np.isfinite(g) for g in got):
        return []
    want = [problem.reference_at(p) for p in probes]
    scale = max(abs(w) for w in want)
    messages = []
    if not _close(got[0], 0.0, scale):
        messages.append(f"{where}, your answer is not 0 when every upstream gradient is 0: "
                        "a gradient must be a sum of terms, each carrying one upstream gradient")
    for k, g, w in zip(grads, got[1:], want[1:]):
        sym = problem.args_order[k]
        name = pretty(sym.name)
        path = name.lstrip("∇")
        g -= got[0]
        if _close(g, w, scale, AGREE):
            continue
        if not problem.reference.has(sym):
            messages.append(f"{where}, your answer has a term with {name}, but no path through {path} "
                            "reaches this quantity")
        elif _close(g, 0.0, scale):
            messages.append(f"{where}, your answer ignores the path through {path} (the term with {name})")
        else:
            messages.append(f"{where}, the coefficient of the term with {name} (the path through {path}) is wrong")
    return messages


def _seed_inputs(problem: ExpressionProblem) -> set:
    return {s for s in problem.args_order if s in set(problem.graph.seeds.values())}
