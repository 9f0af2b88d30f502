"""Shared helpers for the authoring tests, handed out as fixtures (test modules
cannot import a conftest under --import-mode=importlib): packs copied to a
scratch folder, and a student notebook's self-check run in a fresh namespace."""
from __future__ import annotations

import contextlib
import io
import shutil
import types
from pathlib import Path

import nbformat
import pytest

from grader.assignment import ASSIGNMENTS_DIR
from grader.authoring import build_student_notebook

SCALAR = ASSIGNMENTS_DIR / "lstm_scalar"


def solution_answers(pack: Path) -> list[str]:
    """The solution's code cells after the setup cell: the answers, markers and all."""
    nb = nbformat.read(pack / "solution.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"][1:]


def submission_answers(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"][1:]


class SelfCheck:
    """A student notebook's first cell, then some answer cells, exec'd in one namespace."""

    def __init__(self, setup: str, answers: list[str]):
        self.ns: dict = {"__name__": "__main__"}
        exec(compile(setup, "<setup cell>", "exec"), self.ns)
        for k, source in enumerate(answers, 1):
            exec(compile(source, f"<answer cell {k}>", "exec"), self.ns)

    def printed(self, name: str, *args) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result = self.ns[name](*args)
        assert result is None  # a returned value would be echoed under every check() call
        return out.getvalue()


def setup_cell(pack: Path) -> str:
    nb = build_student_notebook(pack)
    return next(c.source for c in nb.cells if c.cell_type == "code")


@pytest.fixture(scope="session")
def kit():
    return types.SimpleNamespace(SCALAR=SCALAR, SelfCheck=SelfCheck, setup_cell=setup_cell,
                                 solution_answers=solution_answers, submission_answers=submission_answers)


@pytest.fixture(scope="session")
def scalar_setup() -> str:
    return setup_cell(SCALAR)


@pytest.fixture
def scratch_pack(tmp_path):
    """copy(name) -> a copy of a pack under tmp_path, same folder name, so the same seeds."""

    def copy(name: str = "lstm_scalar", edit=None) -> Path:
        dest = tmp_path / name
        shutil.copytree(ASSIGNMENTS_DIR / name, dest, ignore=shutil.ignore_patterns("examples"))
        if edit is not None:
            edit(dest)
        return dest

    return copy
