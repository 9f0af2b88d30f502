"""What a submission's code is once read from disk: numbered cells, plus what went wrong reading it.

The notebook reader produces these; the sandbox consumes them. Both sides only
ever see these frozen records, so neither depends on nbformat or on the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CodeCell:
    """One runnable cell. ``number`` is the 1-based position among *all* cells
    of the notebook (markdown included), which is what a student counts when
    scrolling; for a ``.py`` file it is the 1-based ``# %%`` block."""

    number: int
    source: str


@dataclass(frozen=True)
class SourceProblem:
    """Something a student should know about how their file was read
    (a skipped cell, a neutralised magic, an upgraded format)."""

    cell: int | None
    message: str


@dataclass(frozen=True)
class Submission:
    path: Path
    cells: tuple[CodeCell, ...]
    problems: tuple[SourceProblem, ...] = ()


class SubmissionError(Exception):
    """The file cannot be graded at all. Carries the culprit path."""

    def __init__(self, path: Path | str, message: str):
        self.path = Path(path)
        self.message = message
        super().__init__(f"{self.path.name}: {message}")
