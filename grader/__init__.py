"""lstm-autograder: grade hand-derived LSTM backpropagation.

    from grader import load_assignment, grade, render_text
    report = grade(load_assignment("lstm_scalar"), "alice.ipynb")
    print(render_text(report)); report.to_json()

The command line (`lstm-grader`) is grader.cli; the reference gradients live in
the separate `reference` package. Names are imported on first use (PEP 562), so
that `import grader` and `lstm-grader --help` do not pay for SymPy. (The pipeline
lives in `grading`, not in a module named `grade`: importing a submodule sets the
package attribute of its name, which would hide the function `grade`.)
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Assignment": "assignment", "AssignmentError": "assignment", "Question": "assignment",
    "load_assignment": "assignment",
    "collect": "batch", "grade_many": "batch", "write_gradebook": "batch",
    "grade": "grading",
    "load_submission": "notebook",
    "QuestionResult": "report", "Report": "report", "TestResult": "report", "render_text": "report",
    "Submission": "source", "SubmissionError": "source",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value   # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
