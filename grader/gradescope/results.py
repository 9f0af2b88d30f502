"""Gradescope's results.json, rendered from a Report (and nothing else), validated, written once.

Why not gradescope-utils' JSONTestRunner: it turns unittest test methods run
in-process into this format. Here the tests already ran, in another process,
as a Report; wrapping each TestResult in a synthetic unittest method only to
have the runner read the score back would add a layer that can lose tests (a
failing import, a subTest, an error in setUpClass all drop entries without a
trace) and it cannot express per-test output_format or a top-level output.
The format it writes is small and documented, so it is written directly, and
checked against results.schema.json (written from Gradescope's specification)
before it is written.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..report import QuestionResult, Report, TestResult
from ..textsafe import clean
from .layout import Manifest

FORMAT = "md"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
# The last resort when even an error document fails validation: valid under
# any reading of the specification.
MINIMAL = {"score": 0, "output": "The autograder failed; this is not a problem with your work. "
                                 "Please tell the course staff.", "stdout_visibility": "hidden"}


def md(text: str) -> str:
    """Plain text shown literally by Gradescope's Markdown: a student's
    `grad_h_T` must not turn into italics, nor a `<` into HTML; control
    characters a submission printed are stripped first."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text))


def _points(x: float) -> str:
    return f"{round(x, 2):g}"


def _bullets(messages) -> str:
    return "\n".join("- " + md(m).replace("\n", "  \n  ") for m in messages)


def _test(qi: int, ti: int, q: QuestionResult, t: TestResult) -> dict:
    label = t.name[len(q.name) + 1:] if t.name.startswith(q.name + " ") else t.name
    output = _bullets(t.messages) or ("Passed." if t.status == "passed" else "Failed.")
    return {"name": f"{q.name} {q.title} — {label}", "name_format": "text", "number": f"{qi}.{ti}",
            "score": t.score, "max_score": t.max_score, "status": t.status, "output": output,
            "output_format": FORMAT, "visibility": t.visibility, "tags": [q.name, t.check]}


def _summary(report: Report, manifest: Manifest, hidden: int) -> str:
    lines = [f"**{md(manifest.title)}**, graded file: `{report.submission.replace('`', '')}`", ""]
    if hidden:
        # A total, or any per-question sum, would reveal how the hidden tests went.
        lines.append(f"{hidden} of the tests {'stays' if hidden == 1 else 'stay'} hidden until the course "
                     "staff publish grades; your total appears then.")
    else:
        lines.append(f"Autograded score: **{_points(report.score)} / {_points(report.max_score)}**.")
    for q in report.questions:
        if q.manual:
            lines.append(f"\n{md(q.name)} ({_points(q.max_score)} points, *{md(q.title)}*) is graded "
                         "by hand by the course staff and is not part of this score.")
    if report.messages:
        lines += ["", "**About your notebook**", "", _bullets(report.messages)]
    return "\n".join(lines)


def render(report: Report, manifest: Manifest, seconds: float, usage: dict | None = None) -> dict:
    """One Gradescope test per TestResult, numbered question.test."""
    if report.grader_error:
        return grader_error(report.grader_error, manifest, seconds, "grader_error", usage)
    tests = [_test(qi, ti, q, t) for qi, q in enumerate(report.questions, 1)
             for ti, t in enumerate(q.tests, 1)]
    hidden = sum(t["visibility"] != "visible" for t in tests)
    return {
        "score": report.score, "execution_time": round(seconds, 2),
        "output": _summary(report, manifest, hidden), "output_format": FORMAT,
        "visibility": "visible", "stdout_visibility": "hidden", "tests": tests,
        "extra_data": {"assignment": report.assignment, "submission": report.submission,
                       "error": "", **({"usage": usage} if usage else {})},
    }


def _notice(score_message: str, test_name: str, test_output: str, kind: str, detail: str,
            manifest: Manifest | None, seconds: float, usage: dict | None) -> dict:
    return {
        "score": 0, "execution_time": round(seconds, 2), "output": score_message,
        "output_format": FORMAT, "visibility": "visible", "stdout_visibility": "hidden",
        # An entry with a status but no score: a failed check that shows even
        # where Gradescope hides the top-level output.
        "tests": [{"name": test_name, "name_format": "text", "status": "failed",
                   "output": test_output, "output_format": FORMAT, "visibility": "visible"}],
        "extra_data": {"assignment": manifest.assignment if manifest else "", "error": kind,
                       "detail": detail, **({"usage": usage} if usage else {})},
    }


def no_submission(problem: str, manifest: Manifest, seconds: float) -> dict:
    """Nothing gradable was found: the student's to fix, so the message is theirs."""
    return _notice(f"**Your submission could not be graded, so it scored 0.**\n\n{md(problem)}",
                   "Finding your notebook", md(problem), "no_submission", problem, manifest,
                   seconds, None)


def grader_error(detail: str, manifest: Manifest | None, seconds: float, kind: str = "grader_error",
                 usage: dict | None = None) -> dict:
    """The grader failed: say so plainly and keep the detail for the staff
    (extra_data and the hidden stdout); it may name files or expected values."""
    what = ("did not finish in time" if kind == "timeout" else "failed")
    text = (f"**The autograder {what} while grading this submission. This is not a problem with "
            "your work.** Your score is 0 for now; please tell the course staff, who can see what "
            "went wrong and will regrade it.")
    return _notice(text, "Autograder error (not your fault)", text, kind, detail, manifest, seconds,
                   usage)


def load_schema(source: Path) -> dict:
    """The schema ships at the zip's root; in a checkout it lives with its tests."""
    from .layout import SCHEMA

    for path in (source / SCHEMA, source / "tests" / "grader" / "gradescope" / SCHEMA):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"{SCHEMA} is neither in {source} nor in its tests folder")


def problems(doc: dict, schema: dict) -> list[str]:
    """Why ``doc`` is not a valid results.json ([] if it is), JSON encoding included."""
    # jsonschema is a pinned runtime dependency (requirements.txt).
    import jsonschema

    try:
        json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return [f"not JSON: {exc}"]
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))]


def write_once(doc: dict, path: Path) -> None:
    """Temp file then rename, so that Gradescope never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
