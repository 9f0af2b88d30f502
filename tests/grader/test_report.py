"""The report's JSON form is stable: what writers and Gradescope rely on."""
import json

from grader import grade
from grader.report import Report


def test_json_has_the_documented_top_level_and_question_fields(scalar):
    report = grade(scalar, scalar.root / "examples" / "dropped_next_cell_term.ipynb")
    data = json.loads(report.to_json())
    assert {"score", "max_score", "questions", "assignment", "submission", "messages", "grader_error",
            "schema"} <= set(data)
    assert (data["score"], data["max_score"], data["schema"]) == (31.0, 33.0, 1)
    q8 = next(q for q in data["questions"] if q["name"] == "q8")
    assert {"name", "score", "max_score", "messages", "tests"} <= set(q8)
    assert [t["status"] for t in q8["tests"]] == ["failed", "failed", "failed"]
    assert [t["visibility"] for t in q8["tests"]] == ["visible", "visible", "after_published"]
    assert q8["tests"][0]["name"] == "q8 symbolic"


def test_a_report_survives_a_round_trip_through_json(scalar):
    report = grade(scalar, scalar.root / "examples" / "correct.ipynb")
    again = Report.from_dict(json.loads(report.to_json()))
    assert again == report


def test_hidden_test_messages_never_show_expected_values(scalar):
    report = grade(scalar, scalar.root / "examples" / "tanh_prime_as_one_minus_tanh.ipynb")
    for q in report.questions:
        for t in q.tests:
            if t.visibility != "visible":
                assert not any("expected value" in m for m in t.messages), t


def test_a_question_that_loses_points_shows_the_assignments_hint_and_one_that_does_not_shows_none():
    from grader import load_assignment

    pack = load_assignment("bptt_products")
    report = grade(pack, pack.root / "examples" / "reversed_product.ipynb")
    q = {r.name: r for r in report.questions}
    assert q["q1"].messages == (f"hint (a reminder for this question, not a diagnosis of your answer): {pack.question('q1').hint}",)
    assert q["q2"].score == q["q2"].max_score and q["q2"].messages == ()
