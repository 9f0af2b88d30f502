"""A report stays readable whatever the notebook: notes are deduplicated and capped."""
from __future__ import annotations

import nbformat

from grader import steps
from grader.grading import grade

MISSING = "ModuleNotFoundError: No module named 'nosuchmodule'"


def test_capped_keeps_the_first_unique_messages_and_counts_the_rest():
    assert steps.capped(("a", "b", "a", "c"), 3) == ("a", "b", "c")
    assert steps.capped(("a", "b", "a", "c", "d", "b"), 2) == (
        "a", "b", "… and 2 more notes like these were left out")
    assert steps.capped((), 2) == ()


def test_a_notebook_of_thousands_of_failing_cells_gets_a_short_report(scalar, tmp_path):
    # 3,000 cells take about 4 s in the child; the cap is the module's own.
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import nosuchmodule") for _ in range(3000)]
    path = tmp_path / "many.ipynb"
    nbformat.write(nb, path)

    report = grade(scalar, path)

    assert report.grader_error == ""
    assert report.messages == tuple(
        f"cell {k}, line 1 (`import nosuchmodule`): {MISSING}" for k in range(1, steps.MAX_NOTES + 1)
    ) + (f"… and {3000 - steps.MAX_NOTES} more notes like these were left out",)
    assert report.score == 0.0


def test_identical_notes_are_listed_once(scalar, overlay, monkeypatch):
    # The same sentence twice (say from the reading step and from a cell): listed once, in order.
    path = overlay()
    notes = ("first", "second", "first", "third", "second")
    monkeypatch.setattr(steps.CheckQuestions, "_notes", staticmethod(lambda executed: notes))
    monkeypatch.setattr(steps, "MAX_NOTES", 2)
    report = grade(scalar, path)
    assert report.messages == ("first", "second", "… and 1 more notes like these were left out")


def test_per_test_messages_are_capped(scalar, overlay, monkeypatch):
    from grader.checks import Verdict

    many = tuple(f"case {k}: wrong" for k in range(200))
    monkeypatch.setattr(steps.CheckQuestions, "_run_check",
                        staticmethod(lambda ctx, spec: Verdict(0.0, many + many)))
    report = grade(scalar, overlay())
    tests = [t for q in report.questions if not q.manual for t in q.tests]
    expected = many[:steps.MAX_TEST_MESSAGES] + (
        f"… and {200 - steps.MAX_TEST_MESSAGES} more notes like these were left out",)
    # The robustness checks of a wrong formula are not run: they keep their one message.
    assert {t.messages for t in tests} == {expected, (steps.NOT_SCORED,)}
