"""Per-student feedback: one Markdown and one self-contained HTML file per submission.

What a student sees of a test follows its visibility: a ``visible`` test shows
its messages; a ``hidden``, ``after_due_date`` or ``after_published`` one shows
only whether it passed and its points (``show_hidden`` shows everything, for
the course staff or after grades are published). Every string from a
submission goes through :mod:`grader.textsafe`.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from . import textsafe
from .identity import Identity
from .report import QuestionResult, Report, TestResult, points

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(submission_id: str) -> str:
    """A file name for a submission id: ``submission_1/hw.ipynb`` -> ``submission_1__hw.ipynb``."""
    stem = _UNSAFE.sub("_", textsafe.one_line(submission_id).replace("/", "__")).strip("._")
    return stem or "submission"


def shown(test: TestResult, show_hidden: bool) -> bool:
    """Whether a test's messages may be shown to the student."""
    return show_hidden or test.visibility == "visible"


def _who(identity: Identity | None) -> list[str]:
    if identity is None:
        return []
    return [f"{s.name}" + (f" <{s.email}>" if s.email else "") + (f", SID {s.sid}" if s.sid else "")
            for s in identity.students]


def _test_line(t: TestResult, show_hidden: bool) -> tuple[str, list[str]]:
    """The headline of a test and the messages the student may see."""
    mark = "passed" if t.status == "passed" else "failed"
    label = t.name.split(" ", 1)[1] if " " in t.name else t.check
    head = f"{label}: {mark}, {points(t.score)}/{points(t.max_score)}"
    if not shown(t, show_hidden):
        return head + " (hidden test: details shown when grades are published)", []
    return head, list(t.messages)


def _lost(q: QuestionResult) -> bool:
    return not q.manual and q.score < q.max_score - 1e-9


# -- Markdown ----------------------------------------------------------------------

def render_markdown(report: Report, identity: Identity | None = None, title: str = "",
                    show_hidden: bool = False) -> str:
    md = textsafe.markdown
    out = [f"# Feedback: {md(title or report.assignment)}", ""]
    for who in _who(identity):
        out.append(f"**Student:** {md(who)}  ")
    out += [f"**Submission:** {md(report.submission)}  ",
            f"**Autograded score:** {points(report.score)} / {points(report.max_score)}", ""]
    if report.grader_error:
        out += ["> The grader itself failed on this submission; this is not your fault and the course "
                "staff will look at it.", ""]
    if report.messages:
        out += ["## About your notebook", "", *(f"- {md(m)}" for m in report.messages), ""]
    out += ["## Questions", "", "| question | score | |", "|---|---|---|"]
    for q in report.questions:
        score = "graded by hand" if q.manual else f"{points(q.score)}/{points(q.max_score)}"
        state = "" if q.manual else ("full marks" if not _lost(q) else "points lost")
        out.append(f"| {md(q.name)} {md(q.title)} | {score} | {state} |")
    for q in report.questions:
        if q.manual or not (_lost(q) or q.messages):
            continue
        out += ["", f"## {md(q.name)}: {md(q.title)} ({points(q.score)}/{points(q.max_score)})", ""]
        for t in q.tests:
            head, messages = _test_line(t, show_hidden)
            out.append(f"- **{md(head)}**")
            out += [f"  - {md(m)}" for m in messages]
        out += [f"- {md(m)}" for m in q.messages]
    return "\n".join(out) + "\n"


# -- HTML --------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.lost{color:#a11}.full{color:#176}.hidden{color:#666;font-style:italic}
.note{background:#fff6d6;padding:.5rem 1rem;border-left:4px solid #e0b000}
ul.msgs{margin:.2rem 0 .6rem}.pre{white-space:pre-wrap}
"""


def _item(message: str) -> str:
    """A message as a list item; its own line breaks kept, the markup's ignored."""
    return f"<li><span class=\"pre\">{textsafe.html(message)}</span></li>"


def page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            # Self-contained and inert: nothing is fetched, no script runs.
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "img-src data:; style-src 'unsafe-inline'\">"
            f"<title>{textsafe.html(title)}</title><style>{_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def score_chart(report: Report) -> str:
    """A data: URI of a bar chart of the share of each question's points earned."""
    from .classreport import BAR, LOST, new_figure, png_data_uri

    auto = [q for q in report.questions if not q.manual]
    fig, ax = new_figure(6.4, 0.3 * len(auto) + 1.0)
    names = [q.name for q in auto][::-1]
    share = [q.score / q.max_score if q.max_score else 0.0 for q in auto][::-1]
    ax.barh(names, [1.0] * len(auto), color=LOST)
    ax.barh(names, share, color=BAR)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the question's points earned")
    return png_data_uri(fig)


def render_html(report: Report, identity: Identity | None = None, title: str = "",
                show_hidden: bool = False) -> str:
    h = textsafe.html
    heading = f"Feedback: {title or report.assignment}"
    body = [f"<h1>{h(heading)}</h1>"]
    body += [f"<p><b>Student:</b> {h(who)}</p>" for who in _who(identity)]
    body += [f"<p><b>Submission:</b> <code>{h(report.submission)}</code><br>"
             f"<b>Autograded score:</b> {points(report.score)} / {points(report.max_score)}</p>"]
    if report.grader_error:
        body.append("<p class=\"note\">The grader itself failed on this submission; this is not your fault "
                    "and the course staff will look at it.</p>")
    if report.messages:
        body += ["<h2>About your notebook</h2>", "<ul>", *(_item(m) for m in report.messages), "</ul>"]
    body += [f"<img alt=\"share of the points earned per question\" src=\"{score_chart(report)}\">",
             "<h2>Questions</h2>", "<table><tr><th>question</th><th>score</th><th></th></tr>"]
    for q in report.questions:
        score = "graded by hand" if q.manual else f"{points(q.score)}/{points(q.max_score)}"
        state = "" if q.manual else ("<span class=\"full\">full marks</span>" if not _lost(q)
                                     else "<span class=\"lost\">points lost</span>")
        body.append(f"<tr><td>{h(q.name)} {h(q.title)}</td><td>{score}</td><td>{state}</td></tr>")
    body.append("</table>")
    for q in report.questions:
        if q.manual or not (_lost(q) or q.messages):
            continue
        body += [f"<h2>{h(q.name)}: {h(q.title)} ({points(q.score)}/{points(q.max_score)})</h2>", "<ul>"]
        for t in q.tests:
            head, messages = _test_line(t, show_hidden)
            cls = "hidden" if not shown(t, show_hidden) else ("full" if t.status == "passed" else "lost")
            body.append(f"<li><span class=\"{cls}\">{h(head)}</span>")
            if messages:
                body += ["<ul class=\"msgs\">", *(_item(m) for m in messages), "</ul>"]
            body.append("</li>")
        body += [_item(m) for m in q.messages] + ["</ul>"]
    return page(heading, body)


def write_feedback(reports: Iterable[Report], out_dir: str | Path, identities: dict[str, Identity] | None = None,
                   title: str = "", show_hidden: bool = False) -> list[Path]:
    """``<id>.md`` and ``<id>.html`` per report in ``out_dir``; the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    identities = identities or {}
    written, used = [], set()
    for r in reports:
        stem, n = file_stem(r.submission), 2
        while stem in used:   # "a b.py" and "a_b.py" would share a name
            stem, n = f"{file_stem(r.submission)}-{n}", n + 1
        used.add(stem)
        identity = identities.get(r.submission)
        for suffix, render in ((".md", render_markdown), (".html", render_html)):
            path = out / (stem + suffix)
            path.write_text(render(r, identity, title, show_hidden), encoding="utf-8")
            written.append(path)
    return written
