"""Hostile basics: each is graded to the right score within its limit, and grading goes on."""
from __future__ import annotations

import importlib.util

import pytest

from grader import grade, grade_many, load_submission
from grader.sandbox import Limits
from grader.steps import Job, ReadSubmission, RunCells

from .conftest import fixture_text

FAST = Limits(call_timeout=1.0, cell_timeout=1.0, grace=0.5, memory_bytes=1 << 30)


def _q(report, qid):
    return next(q for q in report.questions if q.name == qid)


def _cell_notes(assignment, path, limits=FAST) -> list[str]:
    """The sandbox's notes on the statements of each cell that failed."""
    executed = RunCells()(ReadSubmission()(Job(assignment, path, limits)))
    try:
        return [note for cell in executed.setup.cells for note in cell.notes]
    finally:
        executed.box.close()


def test_an_infinite_loop_at_top_level_costs_nothing_but_a_note(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("loop_at_top_level.py")), FAST)
    assert report.score == 33
    assert any("did not finish within 1 s" in m for m in report.messages), report.messages


def test_a_memory_bomb_at_top_level_costs_nothing_but_a_note(scalar, overlay):
    path = overlay(fixture_text("memory_bomb_at_top_level.py"))
    report = grade(scalar, path, FAST)
    assert report.score == 33
    last = load_submission(path).cells[-1].number
    assert _cell_notes(scalar, path) == [
        f"cell {last}, line 3 (`hoard = np.ones((100_000, 100_000))`): ran out of memory (the limit is "
        "1024 MB)"]


def test_os_exit_at_top_level_is_survived(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("os_exit_at_top_level.py")), FAST)
    assert report.score == 33 and report.grader_error == ""


def test_sys_exit_at_top_level_is_reported_for_its_cell(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("sys_exit_at_top_level.py")), FAST)
    assert report.score == 33
    assert any("called sys.exit('done')" in m for m in report.messages), report.messages


def test_an_exception_at_import_is_reported_and_the_other_cells_still_run(scalar, overlay):
    path = overlay(fixture_text("import_error_first.py"))
    report = grade(scalar, path, FAST)
    assert report.score == 33
    last = load_submission(path).cells[-1].number
    assert _cell_notes(scalar, path) == [
        f"cell {last}, line 1 (`import tensorflow_that_is_not_installed`): ModuleNotFoundError: No module "
        "named 'tensorflow_that_is_not_installed'"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_import_torch_at_the_top_of_a_cell_does_not_cost_the_answer_after_it(scalar, overlay):
    path = overlay(fixture_text("import_torch_then_answer.py"), drop=("grad_o_t",))
    q9 = _q(grade(scalar, path, FAST), "q9")
    assert q9.function == "grad_o_t" and q9.score == q9.max_score
    last = load_submission(path).cells[-1].number
    assert _cell_notes(scalar, path) == [
        f"cell {last}, line 1 (`import torch`): ModuleNotFoundError: No module named 'torch'; "
        "the rest of the cell still ran"]


def test_reading_the_reference_engine_is_refused(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("reads_reference.py")), FAST)
    q9 = _q(report, "q9")
    assert q9.score == 0 and report.score == 31
    assert "not allowed while grading" in q9.tests[0].messages[0], q9.tests[0].messages


def test_reading_the_assignment_file_is_refused(scalar, overlay):
    source = fixture_text("reads_assignment_file.py").replace("ASSIGNMENT_TOML", str(scalar.root / "assignment.toml"))
    report = grade(scalar, overlay(source), FAST)
    q10 = _q(report, "q10")
    assert q10.score == 0 and report.score == 31
    assert "PermissionError" in q10.tests[0].messages[0]


def test_a_memory_bomb_in_a_function_costs_its_question(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("memory_bomb_in_function.py")), FAST)
    q12 = _q(report, "q12")
    assert q12.score == 0 and report.score == 31
    assert "memory" in q12.tests[0].messages[0]


def test_unbounded_recursion_costs_its_question(scalar, overlay):
    report = grade(scalar, overlay(fixture_text("deep_recursion_in_function.py")), FAST)
    assert _q(report, "q9").score == 0 and report.score == 31
    assert "RecursionError" in _q(report, "q9").tests[1].messages[0]


def test_monkeypatching_numpy_and_builtins_in_the_notebook_does_not_reach_the_grader(scalar, overlay):
    import numpy as np

    report = grade(scalar, overlay(fixture_text("monkeypatches_numpy.py")), FAST)
    assert np.tanh(1.0) != 0.0 and abs(-1) == 1
    # The student's own tanh-using functions see the patched np.tanh only if they call it.
    assert report.grader_error == ""


def test_a_batch_goes_on_after_hostile_submissions(scalar, overlay):
    paths = [overlay(fixture_text("os_exit_at_top_level.py"), name="a.py"),
             overlay(fixture_text("infinite_loop_in_function.py"), name="b.py"),
             overlay(name="c.py")]
    reports = grade_many(scalar, paths, jobs=1)
    assert [r.score for r in reports] == [33, 33 - 2, 33]
