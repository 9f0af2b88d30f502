"""Start the sandbox's warm template before grading, so that its imports
(NumPy and SymPy, most of a second) overlap the grader's own start-up.

Light on purpose: the CLI calls it before loading an assignment, which
imports SymPy in this process too.
"""
from __future__ import annotations

from pathlib import Path

from .sandbox import Limits, Sandbox

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def protected_paths(assignment_root: Path) -> list[Path]:
    """What student code must never read: every assignment (references, hidden
    tests, other packs), the grader, the reference engine and the tests."""
    return [assignment_root.parent, PACKAGE_ROOT / "grader", PACKAGE_ROOT / "reference",
            PACKAGE_ROOT / "tests"]


def warm_up(assignment_root: Path, limits: Limits, wait: bool = True) -> None:
    """Start the warm template children of this assignment will be forked from
    (Sandbox.prepare); with ``wait``, until it is ready."""
    Sandbox((), limits=limits, protected=protected_paths(assignment_root)).prepare(wait)
