"""Bad input gets a clear message, and nothing else is lost."""
from __future__ import annotations

import shutil

from grader import grade, load_submission
from grader.sandbox import Limits
from grader.steps import Job, ReadSubmission, RunCells

from .conftest import FIXTURES, fixture_text

NOTEBOOKS = FIXTURES / "notebooks"


def _by_id(report):
    return {q.name: q for q in report.questions}


def _cell_notes(assignment, path, limits=Limits()) -> list[str]:
    """The sandbox's notes on the statements of each cell that failed, as the
    pipeline's RunCells step gets them."""
    executed = RunCells()(ReadSubmission()(Job(assignment, path, limits)))
    try:
        return [note for cell in executed.setup.cells for note in cell.notes]
    finally:
        executed.box.close()


def test_a_file_that_is_not_json_scores_zero_with_the_reason_on_every_question(scalar):
    report = grade(scalar, NOTEBOOKS / "not_json.ipynb")
    assert (report.score, report.max_score, report.grader_error) == (0, 33, "")
    assert report.messages[0].startswith("is not a Jupyter notebook: it is not valid JSON (line 1, column 1")
    assert _by_id(report)["q1"].messages[0].startswith("not graded: is not a Jupyter notebook")


def test_a_truncated_notebook_says_it_was_probably_cut_off(scalar):
    report = grade(scalar, NOTEBOOKS / "truncated.ipynb")
    assert report.score == 0
    assert "probably cut off while uploading or saving" in report.messages[0]


def test_a_notebook_without_code_cells_says_so_and_each_function_is_missing(scalar):
    report = grade(scalar, NOTEBOOKS / "no_code_cells.ipynb")
    assert report.score == 0
    assert "the notebook has no code cells" in report.messages
    assert _by_id(report)["q1"].messages == ("grad_h_T is not defined in your notebook",)


def test_an_nbformat_3_notebook_is_upgraded_and_graded(scalar, tmp_path):
    report = grade(scalar, NOTEBOOKS / "nbformat3.ipynb")
    assert report.grader_error == ""
    assert "the notebook uses the old format version 3; it was converted to version 4 to be graded" in report.messages


def test_a_missing_function_costs_its_question_only(scalar, overlay):
    report = grade(scalar, overlay(drop=("grad_W_hi",)))
    assert report.score == 33 - 6
    assert _by_id(report)["q13"].messages == ("grad_W_hi is not defined in your file",)


def test_a_misspelled_function_name_suggests_the_closest_defined_name(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("misspelled_name.py"), drop=("grad_h_T",)))
    assert report.score == 31
    assert _by_id(report)["q1"].messages == (
        "grad_h_T is not defined in your file; did you mean grad_hT? (rename it to grad_h_T)",)


def test_a_wrong_number_of_parameters_is_named_with_the_expected_ones(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("wrong_parameter_count.py"), drop=("grad_h_T",)))
    assert report.score == 31
    assert _by_id(report)["q1"].messages == (
        "grad_h_T takes 2 parameter(s) (W_y, y_T) but it must take 3: W_y, y_T, grad_y_T",)


def test_a_slow_function_gets_a_timeout_message_and_the_rest_is_graded(scalar, overlay):
    limits = Limits(call_timeout=1.0, cell_timeout=2.0, grace=0.5)
    report = grade(scalar, overlay(fixture_text("infinite_loop_in_function.py")), limits)
    q11 = _by_id(report)["q11"]
    assert q11.score == 0 and report.score == 31
    assert "did not finish within 1 s" in q11.tests[0].messages[0]


def test_a_statement_with_a_syntax_error_costs_only_itself_and_is_reported_by_cell_and_line(
        scalar, overlay):
    path = overlay("def broken(:\n    pass\n\ndef grad_h_T(W_y, y_T, grad_y_T):\n"
                   "    return W_y * y_T * (1 - y_T) * grad_y_T\n", drop=("grad_h_T",))
    q1 = _by_id(grade(scalar, path))["q1"]
    assert q1.score == q1.max_score
    last = load_submission(path).cells[-1].number
    assert _cell_notes(scalar, path) == [
        f"cell {last}, lines 1-2 (`def broken(:`): SyntaxError: invalid syntax at line 1; these lines "
        "were skipped, so broken is not defined; the rest of the cell still ran"]


def test_python2_prints_around_an_answer_cost_nothing_and_say_how_to_write_them(scalar, overlay):
    path = overlay(fixture_text("python2_print_with_answer.py"), drop=("grad_h_T",))
    q1 = _by_id(grade(scalar, path))["q1"]
    assert q1.score == q1.max_score
    last = load_submission(path).cells[-1].number
    assert _cell_notes(scalar, path) == [
        f"cell {last}, line 1 (`print 'checking my answer for grad_h_T...'`): this is Python 2 syntax: "
        "write print('checking my answer for grad_h_T...'); this line was skipped; the rest of the cell "
        "still ran",
        f"cell {last}, line 8 (`print 'grad_h_T(1, 0.5, 1) =', grad_h_T(1, 0.5, 1)`): this is Python 2 "
        "syntax: write print('grad_h_T(1, 0.5, 1) =', grad_h_T(1, 0.5, 1)); this line was skipped"]


def test_a_folder_with_one_broken_notebook_grades_the_others(scalar, tmp_path):
    from grader import collect, grade_many, write_gradebook

    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(scalar.root / "examples" / "correct.ipynb", folder / "alice.ipynb")
    shutil.copy(NOTEBOOKS / "truncated.ipynb", folder / "bob.ipynb")
    shutil.copy(scalar.root / "examples" / "dropped_next_cell_term.ipynb", folder / "carol.ipynb")
    reports = grade_many(scalar, collect([folder]), jobs=2)
    assert [(r.submission, r.score) for r in reports] == [("alice.ipynb", 33), ("bob.ipynb", 0), ("carol.ipynb", 31)]
    write_gradebook(reports, scalar, tmp_path / "grades.csv")
    rows = (tmp_path / "grades.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("submission,score,max_score,q1,q2,")
    assert rows[2].startswith("bob.ipynb,0,33,0,0,") and "probably cut off" in rows[2]
    assert rows[3].startswith("carol.ipynb,31,33,")
