"""Text from a submission cannot rewrite the terminal, start a spreadsheet formula, or become markup."""
import pytest

from grader import report as R
from grader.report import QuestionResult, Report, render_text
from grader.textsafe import clean, csv_cell, html, markdown, one_line, sanitize


def test_ansi_escapes_and_carriage_returns_cannot_overwrite_a_line():
    fake = "wrong\x1b[2K\r\x1b[1;32m33 / 33\x1b[0m"
    assert clean(fake) == "wrong33 / 33"
    assert "\r" not in clean("a\rb") and "\x1b" not in clean(fake)


def test_osc_and_other_escape_strings_go_as_a_whole():
    hyperlink = "see \x1b]8;;http://evil.example\x1b\\here\x1b]8;;\x1b\\ now"
    assert clean(hyperlink) == "see here now"
    assert clean("title\x1b]0;pwned\x07 end") == "title end"
    assert clean("8-bit \x9b31mred") == "8-bit red"


def test_c0_c1_del_and_bidi_overrides_are_stripped_but_newlines_tabs_and_unicode_stay():
    assert clean("a\x00b\x07c\x08d\x7fe\x85f\x9fg") == "abcdefg"
    assert clean("evil\u202egnp.exe") == "evilgnp.exe"
    assert clean("∇C_{t+1}\tand\nÉlodie") == "∇C_{t+1}\tand\nÉlodie"
    assert clean("line\r\nnext\u2028third") == "line\nnext\nthird"


def test_one_line_collapses_whitespace():
    assert one_line("  Ada\n\tLovelace \x1b[0m ") == "Ada Lovelace"


@pytest.mark.parametrize("raw, cell", [
    ("=1+1", "'=1+1"), ("+41 79", "'+41 79"), ("-2", "'-2"), ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=cmd", "'=cmd"), ("\rx", "'x"), ("\x1b[0m=HYPERLINK(1)", "'=HYPERLINK(1)"),
    ("Ada Lovelace", "Ada Lovelace"), ("2.13", "2.13"), ("a\nb", "a b"), ("", ""),
])
def test_csv_cells_that_start_a_formula_get_a_quote(raw, cell):
    assert csv_cell(raw) == cell


def test_html_is_escaped_after_cleaning():
    assert html('<img src=x onerror="alert(1)">\x1b[31m&') == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;"


def test_markdown_shows_text_literally():
    assert markdown("grad_h_T is *not* <b>this</b> | [x](y)") == \
        r"grad\_h\_T is \*not\* \<b\>this\</b\> \| \[x\](y)"
    assert markdown("first\n- not a list\n1. nor this\n# nor a heading") == \
        "first  \n\\- not a list  \n1\\. nor this  \n\\# nor a heading"


def test_sanitize_cleans_every_string_of_json_data():
    data = {"name\x1b[1m": ["ok\r", {"m": ("x\x07",)}], "n": 3.5, "flag": True}
    assert sanitize(data) == {"name": ["ok", {"m": ["x"]}], "n": 3.5, "flag": True}


def _report(message: str, submission: str = "alice.ipynb") -> Report:
    test = R.TestResult("q1 numeric", "numeric", 0.0, 1.0, "visible", (message,))
    q = QuestionResult("q1", "∇h_T", "grad_h_T", 0.0, 1.0, (), (test,))
    return Report("lstm_scalar", submission, 0.0, 1.0, (q,), messages=(message,))


def test_the_text_report_and_the_json_carry_no_escape():
    report = _report("oops\x1b[2K\r33 / 33", submission="evil\x1b[2J.ipynb")
    text = render_text(report)
    assert "\x1b" not in text and "\r" not in text
    assert text.splitlines()[0] == "evil.ipynb — lstm_scalar: 0 / 1"
    assert "      FAIL numeric    oops33 / 33" in text
    assert "\x1b" not in report.to_json() and "\\r" not in report.to_json()
    assert report.to_dict()["questions"][0]["tests"][0]["messages"] == ["oops33 / 33"]


def test_a_multi_line_message_stays_under_its_test():
    text = render_text(_report("first line\nsecond line"))
    assert "      FAIL numeric    first line\n                      second line" in text
