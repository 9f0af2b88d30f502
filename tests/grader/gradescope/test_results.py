"""Report -> results.json: one Gradescope test per TestResult, Markdown that
shows text literally, nothing that leaks hidden tests, and a schema that
refuses what Gradescope's specification does not allow."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from grader.gradescope import results
from grader.gradescope.layout import Manifest, ManualQuestion
from grader.report import QuestionResult, Report
from grader.report import TestResult as Check

from .conftest import SCHEMA, schema_errors

MANIFEST = Manifest(assignment="lstm_scalar", title="LSTM gradients, univariate",
                    notebook="lstm_scalar.ipynb", max_score=4.0,
                    manual=(ManualQuestion("q3", "Why it works", 4.0),))


def report(*, hidden: bool = True, messages=(), grader_error="") -> Report:
    q1 = QuestionResult("q1", "∇h_T at the last step", "grad_h_T", 1.5, 2.0, tests=(
        Check("q1 symbolic", "symbolic", 1.0, 1.0, "visible", ("identical to the reference",)),
        Check("q1 numeric (saturated)", "numeric", 0.5, 1.0,
                   "after_published" if hidden else "visible",
                   ("wrong when |pre-activation| > 8: grad_h_T returned <nan>", "second line\nwrapped")),
    ))
    q2 = QuestionResult("q2", "∇C_T", "grad_C_T", 0.0, 2.0, tests=(
        Check("q2 numeric (ordinary)", "numeric", 0.0, 2.0, "visible", ()),
    ))
    q3 = QuestionResult("q3", "Why it works", "", 0.0, 4.0, ("graded by hand",), manual=True)
    return Report("lstm_scalar", "alice.ipynb", 1.5, 4.0, (q1, q2, q3), tuple(messages),
                  grader_error=grader_error)


def test_every_test_result_becomes_one_gradescope_test_numbered_question_dot_test():
    doc = results.render(report(), MANIFEST, 2.345, {"grader_mb": 90.0, "sandbox_mb": 70.0})
    assert schema_errors(doc) == []
    assert [(t["number"], t["name"], t["score"], t["max_score"], t["status"], t["visibility"], t["tags"])
            for t in doc["tests"]] == [
        ("1.1", "q1 ∇h_T at the last step — symbolic", 1.0, 1.0, "passed", "visible", ["q1", "symbolic"]),
        ("1.2", "q1 ∇h_T at the last step — numeric (saturated)", 0.5, 1.0, "failed", "after_published",
         ["q1", "numeric"]),
        ("2.1", "q2 ∇C_T — numeric (ordinary)", 0.0, 2.0, "failed", "visible", ["q2", "numeric"]),
    ]
    assert (doc["score"], doc["execution_time"], doc["stdout_visibility"]) == (1.5, 2.35, "hidden")
    assert doc["extra_data"] == {"assignment": "lstm_scalar", "submission": "alice.ipynb", "error": "",
                                 "usage": {"grader_mb": 90.0, "sandbox_mb": 70.0}}


def test_messages_are_markdown_bullets_that_show_code_and_brackets_literally():
    doc = results.render(report(), MANIFEST, 1.0)
    assert doc["tests"][1]["output"] == (
        "- wrong when \\|pre-activation\\| \\> 8: grad\\_h\\_T returned \\<nan\\>\n"
        "- second line  \n  wrapped")
    assert doc["tests"][1]["output_format"] == "md"
    assert doc["tests"][2]["output"] == "Failed."  # a test without messages still says something


def test_with_hidden_tests_the_summary_gives_no_total_that_would_reveal_them():
    doc = results.render(report(hidden=True), MANIFEST, 1.0)
    assert "1.5" not in doc["output"]
    assert doc["output"].splitlines()[2] == ("1 of the tests stays hidden until the course staff publish "
                                             "grades; your total appears then.")


def test_without_hidden_tests_the_summary_gives_the_total_and_names_the_hand_graded_question():
    doc = results.render(report(hidden=False, messages=["cell 3 raised NameError: x"]), MANIFEST, 1.0)
    assert doc["output"] == (
        "**LSTM gradients, univariate**, graded file: `alice.ipynb`\n\n"
        "Autograded score: **1.5 / 4**.\n\n"
        "q3 (4 points, *Why it works*) is graded by hand by the course staff and is not part of this score.\n\n"
        "**About your notebook**\n\n"
        "- cell 3 raised NameError: x")


def test_a_report_carrying_a_grader_error_is_rendered_as_the_graders_failure_not_as_failed_tests():
    doc = results.render(report(grader_error="SandboxError: the sandbox child did not start"), MANIFEST, 3.0)
    assert schema_errors(doc) == []
    assert doc["score"] == 0
    assert doc["extra_data"]["error"] == "grader_error"
    assert doc["extra_data"]["detail"] == "SandboxError: the sandbox child did not start"
    assert "SandboxError" not in doc["output"] and "SandboxError" not in json.dumps(doc["tests"])
    assert [t["name"] for t in doc["tests"]] == ["Autograder error (not your fault)"]


def test_the_last_resort_document_and_every_error_document_pass_the_schema():
    assert schema_errors(results.MINIMAL) == []
    assert schema_errors(results.grader_error("boom", None, 0.0)) == []
    assert schema_errors(results.grader_error("slow", MANIFEST, 481.0, "timeout")) == []
    assert schema_errors(results.no_submission("Expected one notebook, found none.", MANIFEST, 0.1)) == []


@pytest.mark.parametrize("change, error", [
    (lambda d: d.update(visibility="public"), "'public' is not one of"),
    (lambda d: d["tests"][0].update(status="ok"), "'ok' is not one of ['passed', 'failed']"),
    (lambda d: d["tests"][0].update(output_format="markdown"), "'markdown' is not one of"),
    (lambda d: d["tests"][0].update(visiblity="hidden"), "Additional properties are not allowed"),
    (lambda d: d["tests"][0].update(number=1.1), "1.1 is not of type 'string'"),
    (lambda d: d.update(execution_time=-1), "-1 is less than the minimum of 0"),
])
def test_the_schema_refuses_what_the_specification_does_not_allow(change, error):
    doc = results.render(report(), MANIFEST, 1.0)
    change(doc)
    found = schema_errors(doc)
    assert len(found) == 1 and error in found[0], found


def test_without_a_top_level_score_every_test_needs_one():
    assert schema_errors({"tests": [{"name": "a", "score": 1}, {"name": "b", "score": 0}]}) == []
    assert len(schema_errors({"tests": [{"name": "a", "score": 1}, {"name": "b", "status": "passed"}]})) == 1
    assert len(schema_errors({"output": "no score anywhere"})) == 1


def test_problems_uses_the_schema_and_catches_what_json_cannot_encode():
    doc = results.render(report(), MANIFEST, 1.0)
    assert results.problems(doc, SCHEMA) == []
    doc["tests"][0]["score"] = math.nan
    [problem] = results.problems(doc, SCHEMA)
    assert problem.startswith("not JSON: Out of range float values are not JSON compliant")
    doc["tests"][0].update(score=1.0, visibility="public")
    assert results.problems(doc, SCHEMA)[0].startswith("tests/0/visibility: 'public' is not one of")


def test_in_a_checkout_the_schema_is_found_with_these_tests():
    assert results.load_schema(Path(__file__).resolve().parents[3]) == SCHEMA


def test_write_once_leaves_exactly_the_final_file_and_no_temporary(tmp_path):
    target = tmp_path / "results" / "results.json"
    results.write_once({"score": 3}, target)
    assert json.loads(target.read_text()) == {"score": 3}
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]
