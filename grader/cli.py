"""The command line: `lstm-grader grade ASSIGNMENT SUBMISSION...` and friends. Thin by design."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .assignment import AssignmentError, load_assignment
from .batch import collect, grade_many, progress_bar, write_gradebook
from .report import render_text


def _grade(args) -> int:
    assignment = load_assignment(args.assignment)
    paths = collect(args.submissions)
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"lstm-grader: no such file or folder: {missing[0]}", file=sys.stderr)
        return 2
    if not paths:
        print("lstm-grader: no .ipynb or .py submissions found in " + ", ".join(args.submissions), file=sys.stderr)
        return 2
    progress = progress_bar() if len(paths) > 1 and not args.quiet and sys.stderr.isatty() else None
    reports = grade_many(assignment, paths, jobs=args.jobs, progress=progress)
    if not args.quiet:
        for r in reports:
            print(render_text(r, show_hidden=not args.student_view))
            print()
    if len(reports) > 1:
        total = sum(r.score for r in reports) / len(reports)
        print(f"{len(reports)} submissions graded; mean score {total:.2f} / {assignment.max_score:g}")
    if args.json:
        data = [r.to_dict() for r in reports]
        Path(args.json).write_text(json.dumps(data[0] if len(data) == 1 else data, indent=2, ensure_ascii=False),
                                   encoding="utf-8")
    csv_path = args.csv or (Path(args.submissions[0]) / "gradebook.csv"
                            if len(args.submissions) == 1 and Path(args.submissions[0]).is_dir() else None)
    if csv_path:
        write_gradebook(reports, assignment, csv_path)
        print(f"gradebook written to {csv_path}")
    return 0


def _derive(args) -> int:
    from reference import gradient, latex

    expr = gradient(args.cell, args.quantity, at=args.at, form=args.form)
    print(latex(expr) if not args.plain else expr)
    return 0


def _list(args) -> int:
    from .assignment import ASSIGNMENTS_DIR

    for d in sorted(ASSIGNMENTS_DIR.iterdir()):
        if (d / "assignment.toml").is_file():
            a = load_assignment(d.name)
            print(f"{a.name:<16} {a.title} ({len(a.questions)} questions, {a.max_score:g} points)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-grader", description="Grade hand-derived LSTM backpropagation.")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade notebooks (.ipynb) or .py files, or folders of them")
    g.add_argument("assignment", help="an assignment name (see `lstm-grader list`) or its folder")
    g.add_argument("submissions", nargs="+", help="files or folders")
    g.add_argument("--json", metavar="FILE", help="write the report(s) as JSON")
    g.add_argument("--csv", metavar="FILE", help="write a gradebook (default for a folder: FOLDER/gradebook.csv)")
    g.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N submissions in parallel")
    g.add_argument("--quiet", action="store_true", help="print only the summary")
    g.add_argument("--student-view", action="store_true", help="hide the messages of hidden tests")
    g.set_defaults(run=_grade)
    d = sub.add_parser("derive", help="print a derived reference gradient (LaTeX)")
    d.add_argument("cell", help="lstm, rnn, gru, pseudo_lstm, peephole_lstm, prototype_lstm")
    d.add_argument("quantity", help="the quantity whose gradient to derive, e.g. C")
    d.add_argument("--at", default="t", choices=["t", "T"], help="t < T (default) or the last step T")
    d.add_argument("--form", default="recursive", choices=["recursive", "expanded", "primitives"])
    d.add_argument("--plain", action="store_true", help="SymPy's text form instead of LaTeX")
    d.set_defaults(run=_derive)
    sub.add_parser("list", help="list the assignments").set_defaults(run=_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (AssignmentError, KeyError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"lstm-grader: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
