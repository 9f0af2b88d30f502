"""Limits.total_seconds: one submission's setup and calls share one wall-clock
budget; past it, calls are not made and say why."""
from __future__ import annotations

import time
from dataclasses import replace

from grader.sandbox import Limits

from .conftest import FAST

SLEEPY = """
    import time
    def step(x):
        time.sleep(100)
    def quick(x):
        return 2 * x
    """
BUDGET = replace(FAST, total_seconds=2.5)
OUT = "was not run: the submission used up its 2.5 s grading budget"


def test_the_default_budget_is_five_minutes():
    assert Limits().total_seconds == 300.0


def test_calls_past_the_budget_are_not_run_and_say_so(make_sandbox):
    box = make_sandbox(SLEEPY, limits=BUDGET)
    start = time.monotonic()
    results = box.call_many("step", [[k] for k in range(10)])
    elapsed = time.monotonic() - start
    # Each call times out after 1 s (+ up to 0.5 s grace): two fit in 2.5 s, the
    # third is cut by the budget, the rest are never made.
    assert [r.status for r in results] == ["timeout"] * 10
    assert [r.message for r in results[3:]] == [OUT] * 7
    assert results[0].message.startswith("did not finish within 1 s")
    assert elapsed < BUDGET.total_seconds + FAST.grace + 2.0
    assert box.out_of_budget and box.stopped_by_budget
    # A function that would finish is refused too: the budget is the submission's.
    assert box.call("quick", [3]).status == "timeout"
    assert box.call("quick", [3]).message == OUT


def test_a_call_cut_by_the_budget_is_stopped_at_the_budget(make_sandbox):
    box = make_sandbox(SLEEPY, limits=replace(FAST, total_seconds=1.5, call_timeout=60.0))
    start = time.monotonic()
    result = box.call("step", [1])
    assert (result.status, result.message) == (
        "timeout", "was stopped: the submission used up its 1.5 s grading budget")
    assert box.stopped_by_budget
    assert time.monotonic() - start < 1.5 + FAST.grace + 2.0


def test_within_the_budget_nothing_changes(make_sandbox):
    box = make_sandbox(SLEEPY, limits=BUDGET)
    assert [r.value for r in box.call_many("quick", [[1], [2]])] == [2, 4]
    assert not box.out_of_budget and not box.stopped_by_budget


def test_the_report_says_once_that_the_budget_ran_out(overlay, scalar):
    from grader.grading import grade

    functions = sorted({f for q in scalar.auto_questions for f in q.student_functions})
    sleepy = "import time\n" + "".join(
        f"def {name}(*args, **kwargs):\n    time.sleep(100)\n" for name in functions)
    limits = replace(FAST, total_seconds=3.0)
    start = time.monotonic()
    report = grade(scalar, overlay(sleepy), limits)
    assert time.monotonic() - start < 3.0 + 15.0
    assert report.grader_error == "" and report.score == 0.0
    note = ("grading stopped early: the submission used up its 3 s grading budget, so the calls "
            "after that point were not run")
    assert report.messages.count(note) == 1
    text = "\n".join(m for q in report.questions for t in q.tests for m in t.messages)
    assert "was not run: the submission used up its 3 s grading budget" in text


def test_the_graders_own_time_between_calls_is_not_charged(make_sandbox):
    box = make_sandbox(SLEEPY, limits=replace(FAST, total_seconds=1.0))
    assert box.call("quick", [1]).value == 2
    time.sleep(1.2)  # the grader computing expected values, say
    assert box.call("quick", [2]).value == 4
    assert not box.out_of_budget and not box.stopped_by_budget
