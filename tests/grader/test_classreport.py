"""The class view: the batch JSON document, the terminal summary, the HTML page and its figures."""
import base64
import json
import re

import pytest

from grader import report as R
from grader.batch import Skipped
from grader.classreport import (DOCUMENT_SCHEMA, common_losses, document, load_reports, new_figure, plot_pixels,
                                png_data_uri, render_class_html, summary_table, write_class_report)
from grader.identity import Identity, Student


def _report(submission, q1, q2, q1_messages=(), messages=()):
    questions = (
        R.QuestionResult("q1", "∇h_T", "grad_h_T", q1, 2.0, ("hint (a reminder): chain rule",) if q1 < 2 else (), (
            R.TestResult("q1 numeric", "numeric", q1, 2.0, "visible", tuple(q1_messages)),)),
        R.QuestionResult("q2", "∇C_T", "grad_C_T", q2, 4.0, (), (
            R.TestResult("q2 numeric", "numeric", q2, 4.0, "hidden",
                         ("wrong at ordinary inputs",) if q2 < 4 else ()),)),
        R.QuestionResult("q3", "by hand", "", 0.0, 3.0, ("graded by hand",), manual=True),
    )
    return R.Report("lstm_scalar", submission, q1 + q2, 6.0, questions, tuple(messages))


@pytest.fixture
def reports():
    return [
        _report("a.ipynb", 2.0, 4.0),
        _report("b.ipynb", 0.0, 4.0, ["wrong at ordinary inputs: 5 of 6 cases failed", "not run: later"]),
        _report("c.ipynb", 1.5, 1.0, ["wrong at ordinary inputs: 6 of 6 cases failed"]),
        _report("d.ipynb", 0.0, 0.0, ["<b>x</b>\x1b[31m"], messages=["the file is empty"]),
    ]


def test_the_summary_table_has_count_mean_median_and_each_questions_mean(reports):
    assert summary_table(reports) == "\n".join([
        "4 submissions: mean 3.13 / 6, median 3.25 / 6",
        "  question      mean    max  full marks",
        "  q1            0.88      2         1/4",
        "  q2            2.25      4         2/4",
    ])
    assert summary_table([]) == "no submissions graded"


def test_the_commonest_reasons_group_by_wording_not_numbers_and_skip_hints(reports):
    assert common_losses(reports) == [
        (2, "q2", "wrong at ordinary inputs"),
        (2, "q1", "wrong at ordinary inputs: 5 of 6 cases failed"),
        (1, "q1", "<b>x</b>"),
        (1, "(file)", "the file is empty"),
    ]


def test_numbers_do_not_split_a_reason():
    rs = [_report(f"{name}.ipynb", 0.0, 4.0, [f"wrong at ordinary inputs: {k} of 6 cases failed"])
          for name, k in (("a", 5), ("b", 5), ("c", 6))]
    assert common_losses(rs) == [(3, "q1", "wrong at ordinary inputs: 5 of 6 cases failed")]


def test_the_document_has_one_shape_and_reads_back(reports, tmp_path):
    identities = {"a.ipynb": Identity("a.ipynb", (Student("Ada\x1b[1m", "ada@x.edu", "1"),))}
    doc = document(reports[:1], "lstm_scalar", [Skipped(".DS_Store", "a hidden file")], identities)
    assert set(doc) == {"schema", "assignment", "reports", "skipped", "students"}
    assert (doc["schema"], doc["assignment"], len(doc["reports"])) == (DOCUMENT_SCHEMA, "lstm_scalar", 1)
    assert doc["skipped"] == [{"path": ".DS_Store", "reason": "a hidden file"}]
    assert doc["students"] == {"a.ipynb": [{"name": "Ada", "email": "ada@x.edu", "sid": "1"}]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    assert load_reports(path) == (reports[:1], json.loads(json.dumps(doc)))


def test_the_older_shapes_still_read(reports, tmp_path):
    (tmp_path / "one.json").write_text(json.dumps(reports[0].to_dict()))
    (tmp_path / "list.json").write_text(json.dumps([r.to_dict() for r in reports[:3]]))
    assert load_reports(tmp_path / "one.json")[0] == reports[:1]
    assert load_reports(tmp_path / "list.json")[0] == reports[:3]
    (tmp_path / "bad.json").write_text('{"reports": [{"score": 1}]}')
    with pytest.raises(ValueError, match="bad.json: not a grading report"):
        load_reports(tmp_path / "bad.json")


def test_the_page_embeds_its_figures_and_escapes_student_text(reports, tmp_path):
    path = write_class_report(reports, tmp_path / "class.html", "LSTM <gradients>",
                              [{"path": "x\x1b[2J.py", "reason": "a symbolic link"}])
    html = path.read_text(encoding="utf-8")
    assert "<h1>Class report: LSTM &lt;gradients&gt;</h1>" in html
    assert "4 submissions; mean 3.13 / 6, median 3.25, 1 with full marks, 0 grader errors." in html
    figures = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(figures) == 2 and all(plot_pixels(base64.b64decode(f)) > 1000 for f in figures)
    assert "<td>q1</td><td>∇h_T</td><td>0.88</td><td>2</td><td>1 / 4 (25%)</td>" in html
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td>" in html and "\x1b" not in html
    assert "<code>x.py</code>" in html and "<script" not in html


def test_a_blank_figure_has_no_plot_pixels():
    fig, ax = new_figure(2, 1)
    ax.axis("off")
    assert plot_pixels(base64.b64decode(png_data_uri(fig).split(",", 1)[1])) == 0
    assert plot_pixels(b"not a png") == 0


def test_no_reports_is_an_error():
    with pytest.raises(ValueError, match="no reports to summarise"):
        render_class_html([])
