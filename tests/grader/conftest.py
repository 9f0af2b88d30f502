"""Build submissions for grader tests from the correct example plus fixture cells."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader import load_assignment, load_submission

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def scalar():
    return load_assignment("lstm_scalar")


@pytest.fixture
def overlay(scalar, tmp_path):
    """A .py submission: the correct example's cells (minus those defining the
    functions in ``drop``), then ``extra`` sources as further cells."""

    def make(*extra: str, drop: tuple[str, ...] = (), name: str = "submission.py") -> Path:
        base = load_submission(scalar.root / "examples" / "correct.ipynb")
        cells = [c.source for c in base.cells
                 if not any(re.search(rf"^def {fn}\(", c.source, re.M) for fn in drop)]
        path = tmp_path / name
        path.write_text("".join(f"# %%\n{src}\n" for src in [*cells, *extra]), encoding="utf-8")
        return path

    return make


def fixture_text(name: str) -> str:
    return (FIXTURES / "submissions" / "lstm_scalar" / name).read_text(encoding="utf-8")
