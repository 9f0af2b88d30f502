"""lstm-autograder: grade hand-derived LSTM backpropagation.

    from grader import load_assignment, grade, render_text
    report = grade(load_assignment("lstm_scalar"), "alice.ipynb")
    print(render_text(report)); report.to_json()

The command line (`lstm-grader`) is grader.cli; the reference gradients live in
the separate `reference` package.
"""
from .assignment import Assignment, AssignmentError, Question, load_assignment
from .batch import collect, grade_many, write_gradebook
from .grade import grade
from .notebook import load_submission
from .report import QuestionResult, Report, TestResult, render_text
from .source import Submission, SubmissionError

__all__ = [
    "Assignment", "AssignmentError", "Question", "QuestionResult", "Report", "Submission",
    "SubmissionError", "TestResult", "collect", "grade", "grade_many", "load_assignment",
    "load_submission", "render_text", "write_gradebook",
]
