"""The command line: `lstm-grader grade ASSIGNMENT SUBMISSION...` and friends. Thin by design.

Exit codes: 0 whenever the command ran (whatever the scores), 2 with a
one-line reason when it could not (unknown assignment, missing path).
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import platform
import sys
from pathlib import Path

from . import textsafe
from .assignment import ASSIGNMENTS_DIR, Assignment, AssignmentError, find_assignment, known_assignments, load_assignment
from .batch import FORMATS, Survey, grade_many, not_graded, progress_bar, survey, write_gradebook
from .classreport import document, load_reports, summary_table, write_class_report
from .feedback import write_feedback
from .identity import MetadataError, identify, read_roster
from .report import Report, render_text


# -- output that survives `| head` ------------------------------------------------

_broken = False


def out(text: str = "") -> None:
    """print(), except that a reader who went away (`lstm-grader list | head`)
    silences the rest of the output instead of ending the command: a batch
    still writes its gradebook and JSON."""
    if _broken:
        return
    try:
        print(text)
    except BrokenPipeError:
        _silence()


def _silence() -> None:
    global _broken
    _broken = True
    try:   # what is still buffered must not fail again at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _flush() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence()


# -- names the user may misspell ------------------------------------------------------

def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _assignment(name: str) -> Assignment:
    try:
        return load_assignment(name)
    except AssignmentError as exc:
        hint = _suggest(name, known_assignments()) if exc.question is None and "unknown assignment" in exc.message \
            else ""
        if hint:
            raise AssignmentError(exc.assignment, None, exc.message + hint) from None
        raise


# -- grade --------------------------------------------------------------------------

def _grade_survey(assignment: Assignment, found: Survey, jobs: int, progress, limits=None) -> list[Report]:
    """Reports in the order of the survey; a submission with no file to grade
    (a Gradescope folder holding two notebooks) gets a zero that says why."""
    graded = [e for e in found.entries if e.path is not None]
    reports = iter(grade_many(assignment, [e.path for e in graded], jobs=jobs, progress=progress,
                              ids=[e.id for e in graded], limits=limits))
    return [next(reports) if e.path is not None else not_graded(assignment, e.id, e.problem)
            for e in found.entries]


def _grade(args) -> int:
    limits, walls = _isolation(args.unsafe_no_isolation)
    if args.jobs <= 1 or (len(args.submissions) == 1 and Path(args.submissions[0]).is_file()):
        _start_sandbox(args.assignment, limits)  # graded here, not in a pool of workers
    assignment = _assignment(args.assignment)
    found = survey(args.submissions, assignment.notebook)
    if found.missing:
        raise _Usage(f"no such file or folder: {found.missing[0]}")
    if not found.entries:
        raise _Usage("no .ipynb or .py submissions found in " + ", ".join(args.submissions))
    folder = Path(args.submissions[0]) if len(args.submissions) == 1 and Path(args.submissions[0]).is_dir() else None
    csv_path = args.csv or (folder / ("gradebook.csv" if args.format == "csv" else f"gradebook-{args.format}.csv")
                            if folder else None)
    if args.format != "csv" and not csv_path:
        raise _Usage(f"--format {args.format} needs --csv FILE when the submissions are not one folder")
    roster = read_roster(args.roster) if args.roster else None
    many = len(found.entries) > 1
    progress = progress_bar() if many and not args.quiet and sys.stderr.isatty() else None
    reports = _grade_survey(assignment, found, args.jobs, progress, limits)
    identities = {r.submission: identify(r.submission, found.metadata, roster) for r in reports}
    if not args.quiet:
        for r in reports:
            names = identities[r.submission].names
            if names:
                out(textsafe.one_line(names))
            out(render_text(r, show_hidden=not args.student_view))
            out()
    if found.skipped:
        out(f"{len(found.skipped)} file{'s' * (len(found.skipped) != 1)} not graded:")
        for s in found.skipped:
            out(f"  {textsafe.one_line(s.id)}: {textsafe.one_line(s.reason)}")
    if many or folder:
        out(summary_table(reports))
    out(walls)
    if args.json:
        doc = document(reports, assignment.name, found.skipped, identities)
        doc["isolation"] = walls
        Path(args.json).write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
        out(f"reports written to {args.json}")
    if csv_path:
        write_gradebook(reports, assignment, csv_path, args.format, identities, roster)
        out(f"gradebook written to {csv_path}")
    if args.feedback:
        written = write_feedback(reports, args.feedback, identities, assignment.title, args.show_hidden)
        out(f"feedback written to {args.feedback} ({len(written)} files)")
    return 0


def _start_sandbox(name: str, limits) -> None:
    """The sandbox's template starts importing now, while this process loads the assignment."""
    from .prestart import warm_up
    from .sandbox import Limits, SandboxError

    try:
        warm_up(find_assignment(name).parent, limits or Limits(), wait=False)
    except (AssignmentError, SandboxError):
        pass  # loading the assignment, or grading, says what is wrong


def _isolation(unsafe: bool):
    """The sandbox limits to grade with, and the line that says which layers hold.
    With no kernel wall (namespaces, Landlock, seccomp) grading refuses, unless asked."""
    from .sandbox import Limits
    from .sandbox.isolation import probe

    found = probe()
    if not found.walled and not unsafe:
        raise _Usage(f"refusing to grade: {found.summary()}. None of namespaces, Landlock and seccomp is "
                     "available here, so student code would be held back by rlimits and an audit hook only; "
                     "use --unsafe-no-isolation to grade anyway")
    return (Limits(unsafe_no_isolation=True) if unsafe else None), found.summary()


# -- check ---------------------------------------------------------------------------

def _check(args) -> int:
    from .grading import grade

    assignment = _assignment(args.assignment)
    by_name = {q.id: q for q in assignment.questions} | {q.function: q for q in assignment.questions if q.function}
    question = by_name.get(args.question)
    if question is None:
        raise _Usage(f"{assignment.name} has no question {args.question}; its questions: "
                     f"{', '.join(q.id for q in assignment.questions)}{_suggest(args.question, by_name)}")
    path = Path(args.submission)
    if not path.is_file():
        raise _Usage(f"no such file: {path}")
    if question.kind == "manual":
        out(f"{question.id} ({question.title}) is graded by hand; there is nothing to check automatically.")
        return 0
    # Grading an assignment of this one question runs every cell but checks only it.
    one = dataclasses.replace(assignment, questions=(question,))
    out(render_text(grade(one, path), show_hidden=not args.student_view))
    return 0


# -- list, derive, report, doctor --------------------------------------------------------

def _list(args) -> int:
    for name in known_assignments():
        a = load_assignment(name, validate=False)
        out(f"{a.name:<16} {a.title} ({len(a.questions)} questions, {a.max_score:g} points)")
    return 0


def quantities(cell: str) -> list[str]:
    """What `derive CELL QUANTITY` accepts: the cell's quantities at a step and its input x."""
    from reference import unrolled

    g = unrolled(cell, "t")
    t = g.step_index("t")
    return sorted({name for name, step in g.values if step == t} | {"x"}, key=lambda n: (n.startswith("z"), n))


def _derive(args) -> int:
    from reference import CELLS, get_cell, gradient, latex

    if args.cell not in CELLS:
        raise _Usage(f"unknown cell {args.cell}; known cells: {', '.join(sorted(CELLS))}{_suggest(args.cell, CELLS)}")
    valid = quantities(args.cell)
    params = [p.name for p in get_cell(args.cell).params]
    listing = f"quantities of {args.cell}: {', '.join(valid)} (and its parameters: {', '.join(params)})"
    if args.quantity is None:
        out(listing)
        return 0
    if args.quantity not in valid and args.quantity not in params:
        raise _Usage(f"{args.cell} has no quantity {args.quantity}; {listing}{_suggest(args.quantity, valid + params)}")
    expr = gradient(args.cell, args.quantity, at=args.at, form=args.form)
    out(latex(expr) if not args.plain else str(expr))
    return 0


def _report(args) -> int:
    reports, doc = load_reports(args.reports)
    if not reports:
        raise _Usage(f"{args.reports} holds no reports")
    path = write_class_report(reports, args.out, args.title or doc.get("assignment", ""), doc.get("skipped", ()))
    out(summary_table(reports))
    out(f"class report written to {path}")
    return 0


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("lstm-autograder")
    except PackageNotFoundError:
        return "unknown (not installed as a package)"


def _doctor(args) -> int:
    import numpy
    import sympy

    from . import sandbox

    out(f"lstm-grader {version()}")
    out(f"Python {platform.python_version()} ({sys.executable})")
    out(f"numpy {numpy.__version__}")
    out(f"sympy {sympy.__version__}")
    out(f"assignments: {ASSIGNMENTS_DIR} ({', '.join(known_assignments()) or 'none'})")
    from .sandbox.isolation import summary

    out(summary())
    limits = sandbox.Limits()
    out("sandbox limits: " + ", ".join(f"{f.name}={getattr(limits, f.name)}" for f in dataclasses.fields(limits)))
    return 0


# -- the parser ----------------------------------------------------------------------

class _Usage(Exception):
    """The command could not run; the message is the one line shown."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-grader", description="Grade hand-derived LSTM backpropagation.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade notebooks (.ipynb) or .py files, or folders of them")
    g.add_argument("assignment", help="an assignment name (see `lstm-grader list`) or its folder")
    g.add_argument("submissions", nargs="+", help="files or folders (a Gradescope export folder too)")
    g.add_argument("--json", metavar="FILE", help='write {"schema": 2, "reports": [...], ...}')
    g.add_argument("--csv", metavar="FILE", help="write a gradebook (default for a folder: FOLDER/gradebook.csv)")
    g.add_argument("--format", choices=FORMATS, default="csv",
                   help="the gradebook's layout: ours (csv), Gradescope's grade export, or Canvas's import")
    g.add_argument("--roster", metavar="CSV", help="names, emails and SIDs, joined by submission id or email")
    g.add_argument("--feedback", metavar="DIR", help="write one Markdown and one HTML feedback file per student")
    g.add_argument("--show-hidden", action="store_true", help="feedback shows the messages of hidden tests too")
    g.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N submissions in parallel")
    g.add_argument("--quiet", action="store_true", help="print only the summary")
    g.add_argument("--student-view", action="store_true", help="hide the messages of hidden tests")
    g.add_argument("--unsafe-no-isolation", action="store_true",
                   help="grade even where none of namespaces, Landlock and seccomp is available "
                        "(student code is then held back by rlimits and an audit hook only)")
    g.set_defaults(run=_grade)
    c = sub.add_parser("check", help="grade one question of one submission")
    c.add_argument("assignment")
    c.add_argument("submission", help="a notebook or .py file")
    c.add_argument("question", help="a question id (q8) or the function it asks for (grad_C_t)")
    c.add_argument("--student-view", action="store_true", help="hide the messages of hidden tests")
    c.set_defaults(run=_check)
    sub.add_parser("list", help="list the assignments").set_defaults(run=_list)
    d = sub.add_parser("derive", help="print a derived reference gradient (LaTeX)")
    d.add_argument("cell", help="lstm, rnn, gru, pseudo_lstm, peephole_lstm, prototype_lstm")
    d.add_argument("quantity", nargs="?", help="the quantity whose gradient to derive, e.g. C (none: list them)")
    d.add_argument("--at", default="t", choices=["t", "T"], help="t < T (default) or the last step T")
    d.add_argument("--form", default="recursive", choices=["recursive", "expanded", "primitives"])
    d.add_argument("--plain", action="store_true", help="SymPy's text form instead of LaTeX")
    d.set_defaults(run=_derive)
    r = sub.add_parser("report", help="a class report (HTML) from the JSON of `grade --json`")
    r.add_argument("reports", help="REPORTS.json")
    r.add_argument("--out", required=True, metavar="HTML")
    r.add_argument("--title", default="", help="the page's title (default: the assignment's name)")
    r.set_defaults(run=_report)
    sub.add_parser("doctor", help="versions and what the sandbox offers").set_defaults(run=_doctor)
    # Listed here for --help; their arguments are the tools' own (see FORWARDED).
    sub.add_parser("assign", help="build the student notebooks from the solutions (--check: only check)",
                   add_help=False)
    sub.add_parser("autograder", help="build the Gradescope zip of an assignment", add_help=False)
    return parser


def _assign(argv: list[str]) -> int:
    from .authoring.__main__ import main as authoring

    return authoring(argv)


def _autograder(argv: list[str]) -> int:
    from .gradescope.build import main as build

    return build(argv)


# Subcommands that are whole tools of their own: everything after the name is theirs.
FORWARDED = {"assign": _assign, "autograder": _autograder}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in FORWARDED:
        return FORWARDED[argv[0]](argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:   # --help, --version, a usage error: argparse printed and exits
        _flush()
        raise
    try:
        code = args.run(args)
    except (_Usage, AssignmentError, MetadataError, KeyError, ValueError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):
            _silence()
            return 0
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        _flush()
        print(f"lstm-grader: {textsafe.one_line(message)}", file=sys.stderr)
        return 2
    _flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
