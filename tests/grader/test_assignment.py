"""Assignment files: what loads, and what is refused with the culprit named."""
import shutil

import pytest

from grader.assignment import AssignmentError, load_assignment


def test_the_scalar_assignment_declares_its_questions_and_points():
    a = load_assignment("lstm_scalar")
    assert [q.id for q in a.questions][:3] == ["q1", "q2", "q3"]
    assert a.max_score == 33
    assert a.question("q13").kind == "task" and a.question("q15").kind == "manual"
    assert a.question("q1").param_names == ("W_y", "y_T", "grad_y_T")


def _variant(tmp_path, text):
    folder = tmp_path / "variant"
    shutil.copytree(load_assignment("lstm_scalar").root, folder)
    (folder / "assignment.toml").write_text(text, encoding="utf-8")
    return folder


BASE = 'cell = "lstm"\n[[questions]]\nid = "q1"\nfunction = "f"\npoints = 1\nat = "T"\ntarget = "h"\n'


@pytest.mark.parametrize("extra, message", [
    ('params = { W_y = "W_y", y_T = "y@T" }\nchecks = ["symbolic"]\n',
     r"variant, question q1: the reference needs \['\\\\nabla y_\{T\}'\], which no parameter provides"),
    ('params = { W_y = "W_y", y_T = "y@T", g = "grad y@T" }\nchecks = ["symbolc"]\n',
     "variant, question q1: unknown check 'symbolc'; known: gradcheck, numeric, stability, symbolic"),
    ('params = { q = "q@T" }\nchecks = ["numeric"]\n', "variant, question q1: cell 'lstm' has no quantity 'q' at step 'T'"),
    ('params = { W_y = "W_y", y_T = "y@T", g = "grad y@T" }\nchecks = ["gradcheck"]\n',
     "variant, question q1: check 'gradcheck': does not apply to expression questions"),
])
def test_a_bad_declaration_is_refused_naming_the_question(tmp_path, extra, message):
    with pytest.raises(AssignmentError, match=message):
        load_assignment(_variant(tmp_path, BASE + extra))


def test_an_unknown_assignment_lists_the_known_ones():
    with pytest.raises(AssignmentError, match="unknown assignment; known assignments: .*lstm_scalar"):
        load_assignment("lstm_scalr")


def test_invalid_toml_is_reported_as_such(tmp_path):
    with pytest.raises(AssignmentError, match="assignment.toml is not valid TOML"):
        load_assignment(_variant(tmp_path, "title = [unclosed"))
