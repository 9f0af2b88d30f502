"""What the grading steps say about a file as a whole: the wrong assignment, a .py that is not a notebook."""
from grader import grade, load_assignment


def test_a_notebook_of_another_assignment_is_named_once_at_the_top(scalar):
    vector = load_assignment("lstm_vector")
    report = grade(scalar, vector.root / "examples" / "correct.ipynb")
    assert report.score == 0
    assert report.messages[0] == ("this file defines 1 of the 14 functions lstm_scalar asks for, but 4 of those "
                                  "lstm_vector asks for: was it submitted to the wrong assignment?")


def test_a_py_file_is_called_a_file_not_a_notebook(scalar, overlay):
    report = grade(scalar, overlay(drop=("grad_h_T",)))
    q1 = next(q for q in report.questions if q.name == "q1")
    assert q1.messages == ("grad_h_T is not defined in your file",)
    assert not any("notebook" in m for m in report.messages)
