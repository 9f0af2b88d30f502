"""Grade one submission: the pipeline declared as data, and the guard around it."""
from __future__ import annotations

import traceback
from pathlib import Path

from .assignment import Assignment
from .pipeline import Pipeline
from .report import QuestionResult, Report
from .sandbox import Limits
from .steps import CheckQuestions, Job, ReadSubmission, RunCells, WriteReport

PIPELINE = Pipeline([ReadSubmission(), RunCells(), CheckQuestions(), WriteReport()])


def grade(assignment: Assignment, path: str | Path, limits: Limits = Limits()) -> Report:
    """A report for ``path``, whatever happens: a failure of the grader itself is
    reported as such (``grader_error``), never as an unexplained zero."""
    path = Path(path)
    try:
        return PIPELINE.run(Job(assignment, path, limits))
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        questions = tuple(QuestionResult(q.id, q.title, q.function, 0.0, q.points,
                                         ("not graded because of a grader error",), manual=q.kind == "manual")
                          for q in assignment.questions)
        return Report(assignment.name, path.name, 0.0, assignment.max_score, questions,
                      grader_error=detail)
