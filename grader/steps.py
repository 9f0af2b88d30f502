"""The steps of grading one submission, and the frozen values passed between them.

    Job ──ReadSubmission──▶ Read ──RunCells──▶ Executed ──CheckQuestions──▶ Checked ──WriteReport──▶ Report
"""
from __future__ import annotations

import difflib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import scoring
from .assignment import Assignment, Question, known_assignments, load_assignment
from .checks import CHECKS, CheckContext, Verdict
from .notebook import load_submission
from .pipeline import Step
from .prestart import protected_paths
from .problems import problem_for
from .report import QuestionResult, Report, TestResult
from .sandbox import Limits, Sandbox, SandboxError, Setup
from .source import Submission, SubmissionError

NOT_SCORED = ("not run: the answer is not yet right at ordinary inputs, and the robustness of a formula is "
              "only scored once it is right (see the checks above)")
NO_CREDIT = "no credit: this check passed, but the question's other checks at ordinary inputs did not"
# A report is read by a person: a 250,000-cell notebook once produced 200,000
# notes and a 15 MB report. Notes and per-test messages are deduplicated and
# only this many kept, then one line counts the rest.
MAX_NOTES = 50
MAX_TEST_MESSAGES = 50


def capped(messages, limit: int) -> tuple[str, ...]:
    """``messages`` without repeats, at most ``limit`` of them, then one line
    counting those left out (the first ones are kept: they come first in the file)."""
    unique = tuple(dict.fromkeys(messages))
    if len(unique) <= limit:
        return unique
    return unique[:limit] + (f"… and {len(unique) - limit} more notes like these were left out",)


@dataclass(frozen=True)
class Job:
    assignment: Assignment
    path: Path
    limits: Limits = Limits()
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Read:
    job: Job
    submission: Submission | None
    error: str = ""   # why the file could not be read at all


@dataclass(frozen=True)
class Executed:
    read: Read
    setup: Setup | None
    box: Sandbox | None
    grader_error: str = ""


@dataclass(frozen=True)
class Checked:
    executed: Executed
    questions: tuple[QuestionResult, ...]
    notes: tuple[str, ...]


class ReadSubmission(Step):
    consumes, produces = Job, Read

    def __call__(self, job: Job) -> Read:
        try:
            return Read(job, load_submission(job.path))
        except SubmissionError as exc:
            return Read(job, None, exc.message)


class RunCells(Step):
    consumes, produces = Read, Executed

    def __call__(self, read: Read) -> Executed:
        if read.submission is None:
            return Executed(read, None, None)
        job = read.job
        box = Sandbox(read.submission.cells, limits=job.limits,
                      protected=protected_paths(job.assignment.root), preamble=job.assignment.preamble)
        try:
            return Executed(read, box.setup(), box)
        except SandboxError as exc:
            box.close()
            return Executed(read, None, None, grader_error=str(exc))


class CheckQuestions(Step):
    consumes, produces = Executed, Checked

    def __call__(self, executed: Executed) -> Checked:
        job = executed.read.job
        try:
            results = tuple(self._question(executed, q) for q in job.assignment.questions)
        finally:
            if executed.box is not None:
                executed.box.close()
        notes = self._notes(executed)
        if executed.box is not None and executed.box.stopped_by_budget:
            # Said once here; each call it stopped only says "was not run".
            notes = (f"grading stopped early: the submission used up its "
                     f"{executed.box.limits.total_seconds:g} s grading budget, so the calls after "
                     "that point were not run",) + notes
        elsewhere = self._another_assignment(executed)
        if elsewhere:
            notes = (elsewhere,) + notes
        return Checked(executed, results, capped(notes, MAX_NOTES))

    @staticmethod
    def _another_assignment(executed: Executed) -> str:
        """When a file defines few of this assignment's functions and more of another
        pack's, say so once, at the top, before the "not defined" of every question."""
        if executed.setup is None:
            return ""
        assignment = executed.read.job.assignment
        defined = {n for n, _ in executed.setup.functions}
        wanted = {f for q in assignment.auto_questions for f in q.student_functions}
        ours = len(defined & wanted)
        if not defined or 2 * ours >= len(wanted):
            return ""
        best, hits = "", 0
        for name in known_assignments():
            if name == assignment.name:
                continue
            other = load_assignment(name, validate=False)
            found = len(defined & {f for q in other.auto_questions for f in q.student_functions})
            if found > hits:
                best, hits = name, found
        if not best or hits <= ours:
            return ""
        return (f"this file defines {ours} of the {len(wanted)} functions {assignment.name} asks for, but {hits} "
                f"of those {best} asks for: was it submitted to the wrong assignment?")

    @staticmethod
    def _notes(executed: Executed) -> tuple[str, ...]:
        notes = [p.message for p in (executed.read.submission.problems if executed.read.submission else ())]
        if executed.setup is not None:
            for cell in executed.setup.cells:
                notes.extend(cell.notes)
                if cell.status != "ok":
                    notes.append(f"cell {cell.number}: {cell.message}")
        return tuple(notes)

    def _question(self, executed: Executed, q: Question) -> QuestionResult:
        if q.kind == "manual":
            return QuestionResult(q.id, q.title, "", 0.0, q.points, ("graded by hand",), manual=True)
        shares = scoring.split(q.points, [spec.weight for spec in q.checks])
        reason = self._unusable(executed, q)
        if reason:
            tests = tuple(TestResult(f"{q.id} {spec.label}", spec.check, 0.0, scoring.to_points(share),
                                     spec.visibility, (reason,)) for spec, share in zip(q.checks, shares))
            return QuestionResult(q.id, q.title, ", ".join(q.student_functions), 0.0, q.points, (reason,), tests)
        ctx = CheckContext(executed.read.job.assignment, q, problem_for(executed.read.job.assignment, q),
                           executed.box)
        deciding = [CHECKS[spec.check].decides(spec) for spec in q.checks]
        partial = [bool(spec.option("partial_credit", False)) for spec in q.checks]
        verdicts: list[Verdict | None] = [None] * len(q.checks)
        # The deciding checks first: the others only matter for a formula already right.
        for k in sorted(range(len(q.checks)), key=lambda k: not deciding[k]):
            right = all(verdicts[j].passed for j in range(len(q.checks)) if deciding[j] and verdicts[j])
            if deciding[k] or partial[k] or right:
                verdicts[k] = self._run_check(ctx, q.checks[k])
            else:
                verdicts[k] = Verdict(0.0, (NOT_SCORED,))
        right = all(v.passed for v, d in zip(verdicts, deciding) if d)
        tests, units = [], 0
        for spec, share, verdict, part in zip(q.checks, shares, verdicts, partial):
            got = scoring.earned(share, verdict.fraction, verdict.passed, part, right)
            units += got
            messages = verdict.messages
            if not right and not part and verdict.passed and verdict.messages != (NOT_SCORED,):
                messages = messages + (NO_CREDIT,)
            tests.append(TestResult(f"{q.id} {spec.label}", spec.check, scoring.to_points(got),
                                    scoring.to_points(share), spec.visibility,
                                    capped(messages, MAX_TEST_MESSAGES)))
        # The hint is the assignment's general reminder, not a diagnosis: say so.
        hint = (f"hint (a reminder for this question, not a diagnosis of your answer): {q.hint}",) \
            if q.hint and units < scoring.to_units(q.points) else ()
        return QuestionResult(q.id, q.title, ", ".join(q.student_functions), scoring.to_points(units), q.points,
                              hint, tuple(tests))

    @staticmethod
    def _run_check(ctx: CheckContext, spec) -> Verdict:
        try:
            return CHECKS[spec.check]().run(ctx, spec)
        except Exception as exc:  # a bug of ours must not become a student's silent zero
            traceback.print_exc()
            return Verdict(0.0, (f"GRADER ERROR in the {spec.check} check (not your fault; tell the "
                                 f"course staff): {type(exc).__name__}: {exc}",))

    @staticmethod
    def _unusable(executed: Executed, q: Question) -> str:
        """Why the question's function cannot be called at all, or ""."""
        if executed.read.submission is None:
            return f"not graded: {executed.read.error}"
        if executed.setup is None:
            return f"not graded: the grader could not run your {_kind(executed)} (a grader problem, not yours)"
        taken = {f for other in executed.read.job.assignment.questions for f in other.student_functions}
        for name in q.student_functions:
            if not executed.setup.has(name):
                # Another question's function is never a rename candidate, however similar.
                names = [n for n, _ in executed.setup.functions if n not in taken]
                close = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
                hint = f"; did you mean {close[0]}? (rename it to {name})" if close else ""
                return f"{name} is not defined in your {_kind(executed)}{hint}"
        if q.requires:
            return ""  # the driver is the pack's own; the student's signatures are fixed by the layout
        params = executed.setup.signature(q.function) or ()
        if any(p.startswith("*") for p in params) or q.kind == "task" and not q.params:
            return ""
        plain = [p for p in params if not p.startswith("*")]
        if len(plain) != len(q.params):
            return (f"{q.function} takes {len(plain)} parameter(s) ({', '.join(plain)}) but it must take "
                    f"{len(q.params)}: {', '.join(q.param_names)}")
        return ""


def _kind(executed: Executed) -> str:
    """How to name the student's file: a .py is not a notebook."""
    return "notebook" if executed.read.job.path.suffix.lower() == ".ipynb" else "file"


class WriteReport(Step):
    consumes, produces = Checked, Report

    def __call__(self, checked: Checked) -> Report:
        executed = checked.executed
        job = executed.read.job
        messages = list(checked.notes)
        if executed.read.submission is None:
            messages.insert(0, executed.read.error)
        auto = [q for q in checked.questions if not q.manual]
        return Report(
            assignment=job.assignment.name, submission=job.path.name,
            score=scoring.to_points(sum(scoring.to_units(q.score) for q in auto)),
            max_score=scoring.to_points(sum(scoring.to_units(q.max_score) for q in auto)),
            questions=checked.questions, messages=tuple(messages), grader_error=executed.grader_error,
            seconds=round(time.monotonic() - job.started, 3))
