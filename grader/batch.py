"""Grade many submissions: collect the files, grade them in parallel, write a gradebook.

One broken notebook never stops a batch: every submission gets a report, and a
report always says why points were lost.
"""
from __future__ import annotations

import csv
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .assignment import Assignment, load_assignment
from .grade import grade
from .report import Report

SUBMISSION_SUFFIXES = (".ipynb", ".py")


def collect(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the notebooks and .py files inside named folders
    (recursively, skipping hidden folders such as .ipynb_checkpoints)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in SUBMISSION_SUFFIXES and f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            out.extend(found)
        else:
            out.append(p)
    return out


def _grade_one(args: tuple[str, str]) -> Report:
    assignment_path, submission = args
    return grade(load_assignment(assignment_path), submission)


def grade_many(assignment: Assignment, paths: Sequence[Path], jobs: int = 1,
               progress: Callable[[int, int, Report], None] | None = None) -> list[Report]:
    """Reports in the order of ``paths``. With jobs > 1 each worker process keeps
    its own cache of derivations, so they are paid once per worker, not per file."""
    reports: list[Report | None] = [None] * len(paths)
    if jobs <= 1 or len(paths) <= 1:
        for k, p in enumerate(paths):
            reports[k] = grade(assignment, p)
            if progress:
                progress(k + 1, len(paths), reports[k])
        return reports  # type: ignore[return-value]
    # forkserver: workers start from a clean interpreter, never from a fork of a
    # process that may hold locks or child pipes.
    context = multiprocessing.get_context("forkserver")
    work = [(str(assignment.root), str(p)) for p in paths]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        for k, report in enumerate(pool.map(_grade_one, work)):
            reports[k] = report
            if progress:
                progress(k + 1, len(paths), report)
    return reports  # type: ignore[return-value]


def write_gradebook(reports: Sequence[Report], assignment: Assignment, path: str | Path) -> None:
    """One row per submission, one column per question, plus the total and any reason."""
    questions = [q.id for q in assignment.auto_questions]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["submission", "score", "max_score", *questions, "notes"])
        for r in reports:
            scores = {q.name: q.score for q in r.questions}
            notes = r.grader_error and f"GRADER ERROR: {r.grader_error}" or "; ".join(r.messages[:3])
            writer.writerow([r.submission, f"{r.score:g}", f"{r.max_score:g}",
                             *(f"{scores.get(q, 0):g}" for q in questions), notes])


def progress_bar(stream=sys.stderr) -> Callable[[int, int, Report], None]:
    def show(done: int, total: int, report: Report) -> None:
        width = 30
        filled = int(width * done / total)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {report.submission[:30]:<30}")
        if done == total:
            stream.write("\n")
        stream.flush()
    return show
