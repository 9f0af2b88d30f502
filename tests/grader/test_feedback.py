"""Feedback files: what a student sees of each test follows its visibility; nothing is markup or an escape."""
import re

from grader import report as R
from grader.feedback import file_stem, render_html, render_markdown, write_feedback
from grader.identity import Identity, Student


def _report(submission="submission_1/hw.ipynb"):
    q1 = R.QuestionResult("q1", "∇h_T at the last step", "grad_h_T", 2.0, 2.0, (), (
        R.TestResult("q1 symbolic", "symbolic", 1.0, 1.0, "visible", ("symbolically equivalent",)),
        R.TestResult("q1 numeric (saturated)", "numeric", 1.0, 1.0, "after_published", ("correct saturated",))))
    q8 = R.QuestionResult("q8", "∇C_t for t < T", "grad_C_t", 0.125, 2.0,
                          ("hint (a reminder): use C_{t+1}",), (
        R.TestResult("q8 symbolic", "symbolic", 0.125, 1.0, "visible",
                     ("ignores the path through C_{t+1}", "<script>alert(1)</script>\x1b[2K\r2/2")),
        R.TestResult("q8 numeric (saturated)", "numeric", 0.0, 0.5, "hidden", ("SECRET expected value 0.9",)),
        R.TestResult("q8 stability", "stability", 0.0, 0.5, "after_due_date", ("SECRET overflow at z=1000",))))
    q15 = R.QuestionResult("q15", "Why f ≈ 1 helps", "", 0.0, 4.0, ("graded by hand",), manual=True)
    return R.Report("lstm_scalar", submission, 2.125, 4.0, (q1, q8, q15), messages=("cell 3 raised NameError",))


IDENTITY = Identity("submission_1/hw.ipynb", (Student("Ada *Lovelace*", "ada@example.edu", "1815"),), "1")


def test_markdown_shows_visible_messages_and_only_pass_fail_and_points_of_hidden_tests():
    md = render_markdown(_report(), IDENTITY, "LSTM gradients")
    assert md.startswith("# Feedback: LSTM gradients\n\n"
                         "**Student:** Ada \\*Lovelace\\* \\<ada@example.edu\\>, SID 1815  \n"
                         "**Submission:** submission\\_1/hw.ipynb  \n**Autograded score:** 2.13 / 4\n")
    assert "## About your notebook\n\n- cell 3 raised NameError" in md
    assert "| q1 ∇h\\_T at the last step | 2/2 | full marks |" in md
    assert "| q8 ∇C\\_t for t \\< T | 0.13/2 | points lost |" in md
    assert "| q15 Why f ≈ 1 helps | graded by hand |  |" in md
    assert "- **symbolic: failed, 0.13/1**\n  - ignores the path through C\\_{t+1}\n" in md
    assert "- **numeric (saturated): failed, 0/0.5 (hidden test: details shown when grades are published)**" in md
    assert "- **stability: failed, 0/0.5 (hidden test: details shown when grades are published)**" in md
    assert "SECRET" not in md
    assert "- hint (a reminder): use C\\_{t+1}" in md
    # q1 lost nothing and says nothing: no section of its own.
    assert "## q1" not in md and "## q8: ∇C\\_t for t \\< T (0.13/2)" in md


def test_show_hidden_shows_every_message():
    md = render_markdown(_report(), show_hidden=True)
    assert "  - SECRET expected value 0.9" in md and "  - SECRET overflow at z=1000" in md


def test_student_text_is_neither_markup_nor_an_escape():
    for text in (render_markdown(_report(), IDENTITY), render_html(_report(), IDENTITY)):
        assert "\x1b" not in text and "\r" not in text and "<script>" not in text
    html = render_html(_report(), IDENTITY)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;2/2" in html
    assert "Ada *Lovelace* &lt;ada@example.edu&gt;, SID 1815" in html


def test_the_html_page_is_self_contained_and_inert():
    html = render_html(_report(), IDENTITY)
    assert "default-src 'none'; img-src data:" in html
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/=]+">', html)) == 1
    assert not re.search(r"<script|https?://|src=\"(?!data:)", html)
    assert "SECRET" not in html and "SECRET" in render_html(_report(), show_hidden=True)


def test_one_markdown_and_one_html_file_per_submission(tmp_path):
    written = write_feedback([_report(), _report("alice.ipynb"), _report("a b.ipynb"), _report("a_b.ipynb")],
                             tmp_path / "fb", {IDENTITY.id: IDENTITY}, "LSTM gradients")
    assert [p.name for p in written] == [
        "submission_1__hw.ipynb.md", "submission_1__hw.ipynb.html", "alice.ipynb.md", "alice.ipynb.html",
        "a_b.ipynb.md", "a_b.ipynb.html", "a_b.ipynb-2.md", "a_b.ipynb-2.html"]
    assert "**Student:** Ada" in (tmp_path / "fb" / "submission_1__hw.ipynb.md").read_text(encoding="utf-8")
    assert "Student" not in (tmp_path / "fb" / "alice.ipynb.md").read_text(encoding="utf-8")


def test_file_names_cannot_escape_the_folder():
    assert file_stem("../../etc/passwd") == "etc__passwd"
    assert file_stem("..") == "submission"
    assert file_stem("submission_1/\x1b[2Jhw.ipynb") == "submission_1__hw.ipynb"
