"""Real course code, unchanged, gets the points it deserves.

tests/fixtures/submissions/lstm_packed/course_rnn_layers.py is written the way
course starter code and student solutions of the packed layout are: a stray
`import torch`, a Python 2 `print` in starter code, `dnext_c +=` on an input the
caller never reads again, `db` kept as (1, 4H), and an O(T²) forward and
backward. Every one of those is a note, not a lost point.
"""
from pathlib import Path

import pytest

from grader import grade, load_assignment, render_text

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "submissions" / "lstm_packed" / "course_rnn_layers.py"


@pytest.fixture(scope="module")
def report():
    return grade(load_assignment("lstm_packed"), FIXTURE)


def test_course_code_with_every_idiom_scores_full_marks(report):
    assert report.grader_error == ""
    assert (report.score, report.max_score) == (30.0, 30.0), render_text(report)


def test_each_idiom_is_named_in_a_note(report):
    text = render_text(report)
    assert report.messages[:2] == (
        "cell 1, line 4 (`import torch  # left over from the PyTorch part of the course; not installed ...`): "
        "ModuleNotFoundError: No module named 'torch'; the rest of the cell still ran",
        "cell 1, line 25 (`print 'Loaded the recurrent layers'`): this is Python 2 syntax: write "
        "print('Loaded the recurrent layers'); this line was skipped; the rest of the cell still ran")
    assert "changed its input (dnext_c) in place; the values it returned are right" in text
    assert "db: returned shape (1, 8) where (8,) was expected; they differ only by axes of size 1" in text


def test_the_quadratic_backward_is_not_cut_off_at_a_thousand_steps(report):
    q4 = next(q for q in report.questions if q.name == "q4")
    stability = next(t for t in q4.tests if t.check == "stability")
    assert stability.score == stability.max_score
    assert "correct with forget gates ≈ 1 and input gates ≈ 0 (T = 1000) (2 of 2 cases)" in stability.messages
