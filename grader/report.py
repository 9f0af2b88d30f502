"""The single output of grading: a frozen report with a stable JSON form.

Text, JSON, the CSV gradebook and Gradescope's results.json are all renderings
of this object; none of them looks at anything else.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from . import textsafe

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TestResult:
    name: str
    check: str
    score: float
    max_score: float
    visibility: str
    messages: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "passed" if self.score >= self.max_score - 1e-9 else "failed"


@dataclass(frozen=True)
class QuestionResult:
    name: str
    title: str
    function: str
    score: float
    max_score: float
    messages: tuple[str, ...] = ()
    tests: tuple[TestResult, ...] = ()
    manual: bool = False


@dataclass(frozen=True)
class Report:
    assignment: str
    submission: str
    score: float
    max_score: float
    questions: tuple[QuestionResult, ...]
    messages: tuple[str, ...] = ()       # about the file as a whole
    grader_error: str = ""               # a bug of ours, never blamed on the student
    seconds: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict:
        """The JSON form. Every string is stripped of escapes and control
        characters: whoever prints a field of it must not be fooled by one."""
        data = textsafe.sanitize(asdict(self))
        data["schema"] = SCHEMA_VERSION
        for q in data["questions"]:
            for t, test in zip(q["tests"], self._tests_of(q["name"])):
                t["status"] = test.status
        return data

    def _tests_of(self, name: str):
        return next(q.tests for q in self.questions if q.name == name)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @staticmethod
    def from_dict(data: dict) -> "Report":
        questions = tuple(
            QuestionResult(**{**q, "messages": tuple(q["messages"]),
                              "tests": tuple(TestResult(**{k: v for k, v in t.items() if k != "status"}
                                                        | {"messages": tuple(t["messages"])})
                                             for t in q["tests"])})
            for q in data["questions"])
        fields = {k: data[k] for k in ("assignment", "submission", "score", "max_score")}
        return Report(**fields, questions=questions, messages=tuple(data.get("messages", ())),
                      grader_error=data.get("grader_error", ""), seconds=data.get("seconds", 0.0))


def points(x: float) -> str:
    """A score as people read it: at most two decimals, halves rounded up as
    on paper (2.125 -> 2.13, not the float's 2.12), no trailing zeros (0.5, 33)."""
    d = Decimal(repr(float(x))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    s = f"{d:f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _lines(text: str, indent: str) -> list[str]:
    """A message, cleaned, with its continuation lines indented under it."""
    return [indent + line if k else line for k, line in enumerate(textsafe.clean(text).split("\n"))]


def render_text(report: Report, show_hidden: bool = True) -> str:
    """A per-question table, then every message a student can act on.

    Everything from the submission is cleaned (textsafe): a message must not be
    able to move the cursor and print a score of its own."""
    one = textsafe.one_line
    lines = [f"{one(report.submission)} — {one(report.assignment)}: "
             f"{points(report.score)} / {points(report.max_score)}"]
    if report.grader_error:
        lines += _lines(f"  GRADER ERROR (not the student's fault): {report.grader_error}", "    ")
    for m in report.messages:
        lines += _lines(f"  note: {m}", "        ")
    width = max((len(q.name) + len(q.function) for q in report.questions), default=10) + 3
    for q in report.questions:
        label = one(f"{q.name} {q.function}").ljust(width)
        score = "manual" if q.manual else f"{points(q.score)}/{points(q.max_score)}"
        lines.append(f"  {label} {score:>9}  {one(q.title)}")
        for t in q.tests:
            if t.visibility != "visible" and not show_hidden:
                continue
            mark = "ok " if t.status == "passed" else "FAIL"
            for k, m in enumerate(t.messages or ("",)):
                prefix = f"      {mark} {one(t.check):<10}" if k == 0 else " " * 21
                lines += [line.rstrip() for line in _lines(f"{prefix} {m}", " " * 22)]
        for m in q.messages:
            lines += _lines(f"      {m}", "        ")
    return "\n".join(lines)
