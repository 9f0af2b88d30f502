"""Authoring: turn each pack's instructor ``solution.ipynb`` into the student notebook.

    from grader.authoring import build_student_notebook, write_student_notebook
    nb = build_student_notebook("assignments/lstm_scalar")    # in memory
    write_student_notebook("assignments/lstm_scalar")         # -> assignments/lstm_scalar/lstm_scalar.ipynb

``python -m grader.authoring`` (``make assignments``) rebuilds every pack;
``--check`` only reports the committed notebooks that are out of date. The
student notebook's first cell carries the pack's helpers and a self-check,
``check("q3")`` / ``check_all()``, that runs the grader's public numeric tests
with no access to the grader (see selfcheck.py).
"""
from .build import (
    AuthoringError, build_student_notebook, pack_dirs, stale_student_notebook, student_notebook_text,
    student_path, write_student_notebook,
)
from .publictests import public_tests

__all__ = [
    "AuthoringError", "build_student_notebook", "pack_dirs", "public_tests", "stale_student_notebook",
    "student_notebook_text", "student_path", "write_student_notebook",
]
