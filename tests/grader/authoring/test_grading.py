"""The grader on generated notebooks: stubs score zero without a grader error, and the
self-check cell (even a check_all() left in a cell) does not disturb grading."""
from __future__ import annotations

import nbformat
import pytest

from grader import grade, load_assignment
from grader.authoring import build_student_notebook, pack_dirs, student_path

PACKS = pack_dirs()
STUB_ERROR = "raised NotImplementedError: write your answer here"


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_the_unanswered_student_notebook_scores_zero_everywhere_with_no_grader_error(pack):
    assignment = load_assignment(pack)
    report = grade(assignment, student_path(assignment))
    assert report.grader_error == ""
    # The setup cell, runtime and all, runs cleanly in the sandbox; only cells that
    # call an unwritten answer (a pack's demo plot, say) may fail, and only on the stub.
    assert all(STUB_ERROR in m for m in report.messages), report.messages
    assert (report.score, report.max_score) == (0.0, assignment.max_score)
    for q in report.questions:
        if q.manual:
            continue
        assert q.score == 0.0
        assert all("GRADER ERROR" not in m for t in q.tests for m in t.messages)
        assert STUB_ERROR in " ".join(m for t in q.tests for m in t.messages), q.name


@pytest.mark.parametrize("pack", PACKS, ids=lambda p: p.name)
def test_the_student_notebook_with_the_solutions_filled_in_and_check_all_left_in_scores_full_marks(pack, tmp_path):
    solution = nbformat.read(pack / "solution.ipynb", as_version=4)
    answers = {c.id: c.source for c in solution.cells if c.cell_type == "code"}
    nb = build_student_notebook(pack)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    for cell in nb.cells:
        if cell.cell_type == "code" and cell is not setup:
            cell.source = answers[cell.id]
    nb.cells.append(nbformat.v4.new_code_cell('check("q1")\ncheck_all()', id="left-in"))
    path = tmp_path / "filled.ipynb"
    nbformat.write(nb, path)
    assignment = load_assignment(pack)
    report = grade(assignment, path)
    assert report.grader_error == "" and report.messages == ()
    assert report.score == assignment.max_score
