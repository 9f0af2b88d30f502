"""Equivalent answers get full marks; realistic mistakes lose credit on their question only.

Each fixture in tests/fixtures/answers/<assignment>/ holds one function, with a
header naming the question and what the grader must say. It is graded laid
over the assignment's correct example (as the last cell, so it replaces that
one function), which proves both that the answer is judged right and that no
other question is touched.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from grader import grade_many, load_assignment, load_submission, render_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "answers"
ASSIGNMENT = "lstm_scalar"


def _header(path: Path) -> tuple[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    question = lines[0].removeprefix("# question: ").strip()
    expect = lines[1].removeprefix("# expect: ").strip()
    return question, expect


def _files(kind: str) -> list[Path]:
    return sorted((FIXTURES / ASSIGNMENT / kind).glob("*.py"))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every fixture graded once, two at a time, laid over the correct example."""
    assignment = load_assignment(ASSIGNMENT)
    base = load_submission(assignment.root / "examples" / "correct.ipynb")
    out_dir = tmp_path_factory.mktemp("answers")
    paths = []
    for fixture in _files("equivalent") + _files("wrong"):
        cells = [c.source for c in base.cells] + [fixture.read_text(encoding="utf-8")]
        path = out_dir / f"{fixture.parent.name}__{fixture.stem}.py"
        path.write_text("".join(f"# %%\n{src}\n" for src in cells), encoding="utf-8")
        paths.append(path)
    reports = grade_many(assignment, paths, jobs=2)
    return assignment, {p.stem.split("__", 1)[1]: r for p, r in zip(paths, reports)}


def test_there_are_at_least_20_equivalent_and_30_wrong_answers():
    assert len(_files("equivalent")) >= 20
    assert len(_files("wrong")) >= 30


@pytest.mark.parametrize("fixture", _files("equivalent"), ids=lambda p: p.stem)
def test_equivalent_answer_scores_full_marks(graded, fixture):
    assignment, reports = graded
    report = reports[fixture.stem]
    assert report.grader_error == ""
    assert report.score == assignment.max_score, render_text(report)
    _, expect = _header(fixture)
    if expect != "full marks":  # a leniency granted must say so
        assert expect in render_text(report), render_text(report)


@pytest.mark.parametrize("fixture", _files("wrong"), ids=lambda p: p.stem)
def test_wrong_answer_loses_credit_on_its_question_only_with_a_message(graded, fixture):
    assignment, reports = graded
    question, expected_message = _header(fixture)
    report = reports[fixture.stem]
    assert report.grader_error == ""
    by_id = {q.name: q for q in report.questions}
    assert by_id[question].score < by_id[question].max_score, render_text(report)
    others = [q.name for q in report.questions if q.name != question and not q.manual and q.score != q.max_score]
    assert others == [], render_text(report)
    text = "\n".join(m for t in by_id[question].tests for m in t.messages)
    assert expected_message in text, text
