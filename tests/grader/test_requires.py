"""Questions graded through a pack's driver still ask for, and name, the student's own functions."""
import re

from grader import grade, load_assignment, load_submission


def _course_style(tmp_path, drop=()):
    """The packed-layout functions alone, as a course's existing .py submission has them:
    no helper cell, no drivers (those come from the pack's preamble)."""
    packed = load_assignment("lstm_packed")
    cells = [c.source for c in load_submission(packed.root / "examples" / "correct.ipynb").cells]
    keep = [src for src in cells
            if re.search(r"^def lstm_(step_)?(forward|backward)\(", src, re.M)
            and not any(re.search(rf"^def {name}\(", src, re.M) for name in drop)]
    path = tmp_path / "submission.py"
    path.write_text("import numpy as np\n\n" + "\n\n".join(keep), encoding="utf-8")
    return packed, path, len(keep)


def test_an_existing_course_submission_of_the_packed_layout_is_graded_unchanged(tmp_path):
    packed, path, functions = _course_style(tmp_path)
    assert functions == 4
    report = grade(packed, path)
    assert report.score == packed.max_score and report.grader_error == ""
    assert [q.function for q in report.questions if not q.manual] == [
        "lstm_step_forward", "lstm_step_forward, lstm_step_backward", "lstm_forward", "lstm_forward, lstm_backward"]


def test_a_missing_backward_is_named_and_costs_only_the_questions_that_need_it(tmp_path):
    """q2 asks for lstm_step_backward itself; this student's lstm_backward calls it,
    so q4 fails with a NameError; the forward questions keep their points."""
    packed, path, _ = _course_style(tmp_path, drop=("lstm_step_backward",))
    report = grade(packed, path)
    q = {r.name: r for r in report.questions}
    assert q["q2"].score == 0 and q["q2"].messages == ("lstm_step_backward is not defined in your file",)
    assert q["q4"].score == 0 and "NameError: name 'lstm_step_backward' is not defined" in q["q4"].tests[0].messages[0]
    assert (q["q1"].score, q["q3"].score) == (q["q1"].max_score, q["q3"].max_score)
