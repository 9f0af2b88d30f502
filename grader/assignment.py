"""An assignment is data: ``assignments/<name>/assignment.toml`` declares its questions.

Adding a question means editing that file, never the grader. Loading validates
everything up front (unknown checks, a quantity the cell does not have, points
that do not add up) and names the culprit question in the error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, Gradescope's image
    import tomli as tomllib

ASSIGNMENTS_DIR = Path(os.environ.get("LSTM_GRADER_ASSIGNMENTS", Path(__file__).resolve().parents[1] / "assignments"))
KINDS = ("expression", "task", "manual")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


class AssignmentError(Exception):
    """The assignment file is wrong. Carries the assignment and, if any, the question."""

    def __init__(self, assignment: str, question: str | None, message: str):
        self.assignment, self.question, self.message = assignment, question, message
        where = f"{assignment}, question {question}" if question else assignment
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class CheckSpec:
    """One test of a question: which check, its share of the points, who sees it."""

    check: str
    weight: float = 1.0
    hidden: bool = False
    visibility: str = "visible"
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)

    @property
    def label(self) -> str:
        """The check's name, with the kinds of input it uses when it says."""
        regimes = self.option("regimes")
        return f"{self.check} ({', '.join(regimes)})" if regimes else self.check


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float
    kind: str
    function: str = ""
    # expression questions: the gradient of ``target`` at horizon ``at``, as a
    # function of ``params`` (student parameter name -> quantity, in order)
    at: str = "t"
    target: str = ""
    params: tuple[tuple[str, str], ...] = ()
    # task questions: a named numeric reference with options
    task: str = ""
    options: tuple[tuple[str, Any], ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    hint: str = ""
    # The student's own functions behind a driver: when set, ``function`` names a
    # helper of the pack (run as the preamble) that calls them, for answers whose
    # pieces only make sense together (a forward's cache fed to its backward).
    requires: tuple[str, ...] = ()

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)

    @property
    def student_functions(self) -> tuple[str, ...]:
        """What the student must define for this question."""
        return self.requires or ((self.function,) if self.function else ())

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.params)


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    root: Path
    cell: str
    questions: tuple[Question, ...]
    notebook: str = ""
    preamble: str = ""
    seed: int = 0
    dims: tuple[tuple[str, int], ...] = field(default=())

    @property
    def auto_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.kind != "manual")

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.auto_questions)

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise AssignmentError(self.name, qid, f"no such question; known: {', '.join(q.id for q in self.questions)}")


def find_assignment(name_or_path: str | Path) -> Path:
    """The assignment.toml for a name ("lstm_scalar") or a path to its folder or file."""
    p = Path(name_or_path)
    for candidate in (p, p / "assignment.toml", ASSIGNMENTS_DIR / str(name_or_path) / "assignment.toml"):
        if candidate.is_file():
            return candidate.resolve()
    known = sorted(d.name for d in ASSIGNMENTS_DIR.iterdir() if (d / "assignment.toml").is_file()) \
        if ASSIGNMENTS_DIR.is_dir() else []
    raise AssignmentError(str(name_or_path), None,
                          f"unknown assignment; known assignments: {', '.join(known) or 'none'}")


def load_assignment(name_or_path: str | Path) -> Assignment:
    path = find_assignment(name_or_path)
    name = path.parent.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(name, None, f"assignment.toml is not valid TOML: {exc}") from None
    preamble = ""
    if data.get("preamble"):
        preamble = (path.parent / data["preamble"]).read_text(encoding="utf-8")
    questions = tuple(_question(name, q) for q in data.get("questions", []))
    if not questions:
        raise AssignmentError(name, None, "declares no questions")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise AssignmentError(name, None, f"question ids repeat: {ids}")
    assignment = Assignment(
        name=name, title=data.get("title", name), root=path.parent, cell=data.get("cell", "lstm"),
        questions=questions, notebook=data.get("notebook", ""), preamble=preamble,
        seed=int(data.get("seed", 0)), dims=tuple(sorted(data.get("dims", {}).items())),
    )
    from .problems import validate  # late: problems needs the reference engine, loading does not

    for q in assignment.auto_questions:
        validate(assignment, q)
    return assignment


def _freeze(value):
    """TOML arrays become tuples so that questions are hashable (and cacheable)."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _question(assignment: str, raw: dict) -> Question:
    qid = str(raw.get("id", ""))
    if not qid:
        raise AssignmentError(assignment, None, f"a question has no id: {raw}")
    kind = raw.get("kind", "expression")
    if kind not in KINDS:
        raise AssignmentError(assignment, qid, f"kind must be one of {KINDS}, not {kind!r}")
    if kind != "manual" and not raw.get("function"):
        raise AssignmentError(assignment, qid, "names no function for the student to write")
    points = float(raw.get("points", 0))
    if points <= 0:
        raise AssignmentError(assignment, qid, "must be worth a positive number of points")
    checks = []
    for entry in raw.get("checks", []):
        entry = {"check": entry} if isinstance(entry, str) else dict(entry)
        check = entry.pop("check", "")
        visibility = entry.pop("visibility", "after_published" if entry.get("hidden") else "visible")
        if visibility not in VISIBILITIES:
            raise AssignmentError(assignment, qid, f"visibility must be one of {VISIBILITIES}")
        checks.append(CheckSpec(check=check, weight=float(entry.pop("weight", 1.0)),
                                hidden=bool(entry.pop("hidden", False)), visibility=visibility,
                                options=tuple(sorted((k, _freeze(v)) for k, v in entry.items()))))
    if kind != "manual" and not checks:
        raise AssignmentError(assignment, qid, "declares no checks")
    return Question(
        id=qid, title=raw.get("title", qid), points=points, kind=kind, function=raw.get("function", ""),
        at=raw.get("at", "t"), target=raw.get("target", ""),
        params=tuple((str(k), str(v)) for k, v in raw.get("params", {}).items()),
        task=raw.get("task", ""), options=tuple(sorted((k, _freeze(v)) for k, v in raw.get("options", {}).items())),
        checks=tuple(checks), hint=raw.get("hint", ""), requires=tuple(raw.get("requires", ())),
    )
