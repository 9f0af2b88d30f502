"""What a question asks, as test cases: inputs for the student's function and the exact answer.

An *expression* question asks for a gradient of the assignment's cell as a
function of named quantities ("y@T", "grad C@t+1", "W_hf"). Its reference is
the derived adjoint with the gradients the question hands out taken as known;
its expected values are that reference evaluated *exactly* at the very floats
the student receives, so the only discrepancy left is the student's own
rounding. A *task* question delegates to a numeric reference in grader.tasks.
Problems are built once per question and cached: nothing here is re-derived
per submission.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from reference.symbolic import evaluate as ev
from reference.symbolic.derive import unrolled
from reference.symbolic.graph import grad_symbol
from reference.symbolic.primitives import sigmoid

from . import cache, regimes
from .assignment import Assignment, AssignmentError, Question
from .tasks import TASKS
from .tasks.base import TaskCase

EPS = float(np.finfo(np.float64).eps)
DEGENERATE = 1024   # |expected| within this many ε of the magnitude: indistinguishable from 0
MAX_DRAWS = 10_000
SYMPY_FUNCTIONS = {"exp": sp.exp, "log": sp.log, "tanh": sp.tanh, "sigmoid": sigmoid}


@dataclass(frozen=True)
class Case:
    regime: str
    args: tuple
    expected: Any
    magnitude: Any = None   # scale of the rounding a correct float64 answer may carry
    label: str = ""
    cost: float = 1.0       # cell steps of work, for the case's time limit
    dropped: tuple = ()     # (what was dropped, value): the reference with one path missing


def seed_for(*parts) -> int:
    """A stable seed from names, so the same submission always meets the same cases."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


class ExpressionProblem:
    phrases = regimes.PHRASES
    layouts: dict = {}   # a number: no axes to name

    def __init__(self, assignment: Assignment, question: Question):
        self.assignment, self.question = assignment, question
        self.graph = g = unrolled(question.cell or assignment.cell, question.at, dict(assignment.dims) or None)
        try:
            self.target = g.value(question.target, question.at)[0]
        except KeyError as exc:
            raise AssignmentError(assignment.name, question.id,
                                  f"{exc.args[0]}; {self._valid_targets()}") from None
        self.bound: dict[str, sp.Symbol] = {}
        given = set()
        for pname, quantity in question.params:
            sym, is_grad = self._resolve(quantity)
            self.bound[pname] = sym
            if is_grad:
                node = self._node(quantity.split(None, 1)[1])
                if node == self.target:
                    # ∇target handed out as known would make the reference that parameter itself
                    raise AssignmentError(assignment.name, question.id,
                                          f"parameter {pname!r} hands out {quantity!r}, the gradient the question "
                                          f"asks for; {self._seed_hint(quantity)}")
                if node in g.defs and g.uses.get(node):
                    given.add(node)
        self.given = frozenset(given)
        self.reference = g.adjoint(self.target, self.given)
        missing = self.reference.free_symbols - set(self.bound.values())
        if missing:
            raise AssignmentError(assignment.name, question.id,
                                  f"the reference needs {sorted(s.name for s in missing)}, "
                                  "which no parameter provides" + self._seed_note(missing))
        self.args_order = tuple(self.bound[p] for p in question.param_names)
        self.magnitude = ev.abs_form(self.reference)
        self.grad_inputs = tuple(s for s in self.args_order if s.name.startswith(r"\nabla"))

    # -- what a parameter may name -------------------------------------------
    # "W_y" a parameter; "y@T" a quantity at a step; "grad C@t+1" the total gradient
    # ∂L/∂C_{t+1} handed out as known; "seed s@T" the loss's own term ∂ℓ/∂s_T, which
    # differs from the total gradient when the state is also the output (a GRU's s_t
    # feeds both the loss and step t+1).
    PREFIXES = ("grad", "seed")

    def _node(self, quantity: str) -> sp.Symbol:
        name, _, step = quantity.partition("@")
        if not step:
            return self.graph.value(name.strip(), None)[0]
        return self.graph.value(name.strip(), step.strip())[0]

    def _resolve(self, quantity: str) -> tuple[sp.Symbol, bool]:
        try:
            prefix, _, rest = quantity.partition(" ")
            if prefix == "grad" and rest:
                return grad_symbol(self._node(rest)), True
            if prefix == "seed" and rest:
                node = self._node(rest)
                if node not in self.graph.seeds:
                    raise KeyError(f"{rest.strip()!r} receives no loss seed (it is not the cell's output "
                                   f"{self.graph.cell.output!r} at a step the loss reads)")
                return self.graph.seeds[node], False
            if " " in quantity.strip():
                raise KeyError(f"{quantity!r} is not a quantity: a parameter may be prefixed only by "
                               f"{' or '.join(repr(p + ' ') for p in self.PREFIXES)}")
            return self._node(quantity), False
        except KeyError as exc:
            raise AssignmentError(self.assignment.name, self.question.id,
                                  f"{exc.args[0]}; {self.valid_names()}") from None

    def valid_names(self) -> str:
        """Everything a parameter of this question may name, for error messages."""
        g = self.graph
        by_step: dict[str, list[str]] = {}
        for (name, step) in g.values:
            by_step.setdefault(g.labels[step], []).append(name)
        for step in g.inputs:
            by_step.setdefault(g.labels[step], []).append("x")
        steps = "; ".join(f"@{label}: {', '.join(sorted(set(names), key=_name_order))}"
                          for label, names in sorted(by_step.items(), key=lambda kv: g.labels.index(kv[0])))
        seeds = sorted({f"seed {g.node_of[s][0]}@{g.labels[g.node_of[s][1]]}" for s in g.seeds},
                       key=lambda n: g.labels.index(n.rsplit("@", 1)[1]))
        return (f"valid quantities of cell {g.cell.name!r} at {self.question.at!r} are {steps}; "
                f"parameters: {', '.join(g.params)}; loss seeds: {', '.join(seeds)}; "
                "and 'grad NAME@STEP' for the gradient of any quantity")

    def _valid_targets(self) -> str:
        g = self.graph
        step = g.step_index(self.question.at)
        names = sorted({n for (n, s) in g.values if s == step}, key=_name_order)
        return f"valid targets of cell {g.cell.name!r} at {self.question.at!r}: {', '.join(names)}"

    def _seed_hint(self, quantity: str) -> str:
        node = quantity.split(None, 1)[1].strip()
        if self.target in self.graph.seeds:
            return f"to hand out the loss's own term ∂ℓ/∂{node}, write 'seed {node}'"
        return "hand out the gradients of the quantities that use it instead"

    def _seed_note(self, missing) -> str:
        seeds = {v: k for k, v in self.graph.seeds.items()}
        named = [s for s in missing if s in seeds]
        if not named:
            return ""
        spell = ", ".join(f"'seed {self.graph.node_of[seeds[s]][0]}@{self.graph.labels[self.graph.node_of[seeds[s]][1]]}'"
                          for s in sorted(named, key=lambda s: s.name))
        return f" (the loss's own term: name it {spell})"

    # -- cases ---------------------------------------------------------------
    def point(self, rng: np.random.Generator, regime: str) -> dict:
        """A forward pass at random weights, with gradient inputs drawn
        independently: the function must be right for any upstream gradient.
        Only the leaves come from the generator; the pass itself is exact and
        each quantity is rounded to float64 once, so no CPU's exp or tanh can
        change a case."""
        g = self.graph
        leaves = {}
        for name, mat in g.params.items():
            is_bias = g.cell.param(name).shape[1] == "1"
            for s in mat:
                if is_bias and regime == "saturated":
                    leaves[s] = float(rng.choice([-1.0, 1.0]) * rng.uniform(*regimes.SATURATED_SHIFT))
                else:
                    leaves[s] = float(rng.normal(0.0, 1.0))
        for s in g.leaves():
            leaves.setdefault(s, float(rng.normal(0.0, 1.0)))
        env = {s: float(v) for s, v in ev.forward(g, leaves, exact=True).items() if s != "dps"}
        for s in self.grad_inputs:
            env[s] = float(rng.normal(0.0, 1.0))
        for s in g.seeds.values():
            env.setdefault(s, float(rng.normal(0.0, 1.0)))
        return env

    def exact_env(self, args: tuple) -> dict:
        """The student's float inputs as exact numbers, with the precision that keeps
        every digit of a float64 result however saturated the gates."""
        env = {s: mpmath.mpf(v) for s, v in zip(self.args_order, args)}
        env["dps"] = ev.required_dps(args)
        return env

    def reference_at(self, args: tuple) -> float:
        """The reference evaluated exactly at ``args``, rounded once."""
        return float(ev.evaluate(self.reference, self.exact_env(args), exact=True))

    def expected_at(self, args: tuple) -> tuple[float, float]:
        """The reference evaluated exactly at the student's inputs, and the
        magnitude of its terms (for the absolute part of the tolerance)."""
        env = self.exact_env(args)
        return (float(ev.evaluate(self.reference, env, exact=True)),
                float(ev.evaluate(self.magnitude, env, exact=True)))

    @lru_cache(maxsize=None)
    def cases(self, regime: str, count: int, seed: int) -> tuple[Case, ...]:
        """Deterministic per (regime, count, seed): computed once, then shared by every
        submission of this process and, through the disk cache, of later ones."""
        if regime not in ("ordinary", "saturated"):
            raise AssignmentError(self.assignment.name, self.question.id,
                                  f"expression questions have ordinary and saturated cases, not {regime!r}")
        return cache.cached(self._key("cases", regime, count, seed), lambda: self._build(regime, count, seed))

    def _key(self, *parts) -> tuple:
        # The cell's source names a cell file's digest: editing gru.cell alone must not
        # serve the cases of the old equations from the disk cache.
        return (cache.assignment_digest(self.assignment.root), self.assignment.name, self.question.id,
                self.graph.cell.source, *parts)

    def _build(self, regime: str, count: int, seed: int) -> tuple[Case, ...]:
        rng = np.random.default_rng(seed)
        out, draws = [], 0
        while len(out) < count:
            draws += 1
            if draws > MAX_DRAWS:
                raise AssignmentError(self.assignment.name, self.question.id,
                                      f"no {regime} case where the answer is not 0 in {MAX_DRAWS} draws")
            env = self.point(rng, regime)
            args = tuple(float(env[s]) for s in self.args_order)
            expected, magnitude = self.expected_at(args)
            # Where saturation rounds a gate to exactly 0 or 1, the true answer at the
            # rounded inputs can be 0 to within rounding: such a case cannot tell any
            # formula from `return 0`, so it is drawn again.
            if abs(expected) <= DEGENERATE * EPS * abs(magnitude):
                continue
            out.append(Case(regime, args, expected, magnitude, dropped=self.dropped_at(args)))
        return tuple(out)

    def dropped_at(self, args: tuple) -> tuple[tuple[str, float], ...]:
        """The reference with one upstream gradient's path removed, exactly at ``args``:
        answers a correct one must never be confused with."""
        env = self.exact_env(args)
        out = []
        for sym in self.grad_inputs:
            if self.reference.has(sym):
                without = self.reference.subs(sym, 0)
                name = pretty(sym.name)
                out.append((f"without the path through {name.lstrip('∇')} (the term with {name})",
                            float(ev.evaluate(without, env, exact=True)) if without.free_symbols else float(without)))
        return tuple(out)

    # -- symbolic ------------------------------------------------------------
    def student_symbols(self) -> dict[str, sp.Symbol]:
        """Student parameter name -> the graph symbol it stands for. The child only
        ever sees opaque symbols named after the parameters; the substitution into
        the cell's quantities happens here, so no derived expression leaks out."""
        return dict(self.bound)


def _name_order(name: str):
    """Named quantities first, pre-activations (z_f, z^{s}) after them."""
    return (name.startswith("z_"), name)


def pretty(name: str) -> str:
    """A symbol name as a student reads it: ∇C_{t+1}, C̃_{t}, W^{hf}, ∂ℓ/∂s_{t}."""
    return name.replace(r"\nabla_{\mathcal{L}} ", "∂ℓ/∂").replace(r"\nabla ", "∇").replace(r"\tilde{C}", "C̃").replace(r"\tilde{s}", "s̃")


class TaskProblem:

    def __init__(self, assignment: Assignment, question: Question):
        self.assignment, self.question = assignment, question
        try:
            task_cls = TASKS[question.task]
        except KeyError:
            raise AssignmentError(assignment.name, question.id,
                                  f"unknown task {question.task!r}; known: {', '.join(sorted(TASKS))}") from None
        self.task = task_cls(**dict(question.options))
        # A task may describe its kinds of input in its own words (an RNN has no gates).
        self.phrases = {**regimes.PHRASES, **self.task.phrases}
        self.layouts = dict(self.task.layouts)

    def _key(self, *parts) -> tuple:
        return (cache.assignment_digest(self.assignment.root), self.assignment.name, self.question.id,
                self.question.task, self.question.options, *parts)

    @lru_cache(maxsize=None)
    def cases(self, regime: str, count: int, seed: int) -> tuple[Case, ...]:
        if regime not in self.task.regimes:
            raise AssignmentError(self.assignment.name, self.question.id,
                                  f"task {self.question.task!r} has no {regime!r} cases; it has {self.task.regimes}")
        return cache.cached(self._key("cases", regime, count, seed), lambda: self._build(regime, count, seed))

    def _build(self, regime: str, count: int, seed: int) -> tuple[Case, ...]:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(count):
            made = self.task.case(rng, regime)
            if not isinstance(made, TaskCase):
                raise TypeError(f"task {self.question.task!r} must return a TaskCase, not {type(made).__name__}")
            out.append(Case(regime, made.args, made.expected, made.magnitude, made.label, made.cost, made.dropped))
        return tuple(out)

    @lru_cache(maxsize=None)
    def gradcheck_cases(self, count: int, seed: int) -> tuple[Case, ...]:
        """Ordinary cases whose expected value is the task's finite difference of the
        exact forward pass: an oracle independent of the backward pass, and more
        exact (1e-20) than any tolerance it is compared with."""
        def build():
            out = []
            for c in self.cases("ordinary", count, seed):
                fd = self.task.finite_difference(c.args)
                out.append(Case(c.regime, c.args, fd, c.magnitude, c.label + " (against finite differences)",
                                c.cost, c.dropped))
            return tuple(out)
        return cache.cached(self._key("gradcheck", count, seed), build)


@lru_cache(maxsize=None)
def problem_for(assignment: Assignment, question: Question):
    if question.kind == "expression":
        return ExpressionProblem(assignment, question)
    return TaskProblem(assignment, question)


cache.RECORDS["Case"] = Case


def validate(assignment: Assignment, question: Question) -> None:
    """Build the problem once (raising AssignmentError on a bad declaration) and
    check that every declared check exists and fits the question's kind."""
    from .checks import CHECKS

    problem = problem_for(assignment, question)
    for spec in question.checks:
        check = CHECKS.get(spec.check)
        if check is None:
            raise AssignmentError(assignment.name, question.id,
                                  f"unknown check {spec.check!r}; known: {', '.join(sorted(CHECKS))}")
        reason = check.unsuitable(problem, spec)
        if reason:
            raise AssignmentError(assignment.name, question.id, f"check {spec.check!r}: {reason}")
