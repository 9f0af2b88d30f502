"""Grade many submissions: survey the folders, grade in parallel, name every result.

Every file under a folder the TA names is accounted for: graded, or listed as
skipped with its reason (hidden files, Jupyter's checkpoints, a PDF next to the
notebook). A submission's id is its path relative to that folder. One broken
notebook never stops a batch: every submission gets a report, and a report
always says why points were lost.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
import stat
import sys
import time
import traceback
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import textsafe
from .assignment import Assignment, load_assignment
from .identity import METADATA, Identity, MetadataError, Roster, Student, read_metadata
from .report import QuestionResult, Report

SUBMISSION_SUFFIXES = (".ipynb", ".py")
# Folders whose files are never submissions, and why (shown to the TA).
_FOLDERS = {".ipynb_checkpoints": "Jupyter's autosave copies", "__MACOSX": "macOS metadata from a zip",
            "__pycache__": "Python's bytecode cache"}


@dataclass(frozen=True)
class Entry:
    """One submission to grade: its file (None when none could be chosen) and its id."""

    id: str
    path: Path | None
    problem: str = ""          # why no file was chosen (a Gradescope folder with two notebooks)


@dataclass(frozen=True)
class Skipped:
    id: str
    reason: str


@dataclass(frozen=True)
class Survey:
    entries: tuple[Entry, ...]
    skipped: tuple[Skipped, ...] = ()
    missing: tuple[str, ...] = ()                       # paths named that do not exist
    metadata: dict[str, tuple[Student, ...]] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        return [e.path for e in self.entries if e.path is not None]


def survey(paths: Iterable[str | Path], notebook: str = "") -> Survey:
    """What to grade under ``paths``. A file named directly is graded under its
    own name; a folder is walked, and a Gradescope export (a folder holding
    ``submission_metadata.yml``) is graded one file per ``submission_<id>/``,
    chosen as the Gradescope autograder chooses it (``notebook`` first).

    Ids are relative to the one folder named; with several paths named, a
    folder's ids start with the folder as given, and two files named directly
    that share a name keep their paths, so that no two ids are the same."""
    paths = [Path(p) for p in paths]
    entries: list[Entry] = []
    skipped: list[Skipped] = []
    missing: list[str] = []
    metadata: dict[str, tuple[Student, ...]] = {}
    for p in paths:
        if p.is_dir():
            e, s, m = _walk(p, notebook)
            if len(paths) > 1:
                e = [replace(x, id=_under(p, x.id)) for x in e]
                s = [replace(x, id=_under(p, x.id)) for x in s]
            entries += e
            skipped += s
            metadata.update(m)
        elif p.exists():
            entries.append(Entry(p.name, p))
        else:
            missing.append(str(p))
    names = Counter(e.id for e in entries)
    entries = [replace(e, id=e.path.as_posix()) if names[e.id] > 1 and e.path is not None else e for e in entries]
    return Survey(tuple(entries), tuple(skipped), tuple(missing), metadata)


def _under(folder: Path, rel: str) -> str:
    return (folder / rel).as_posix() + ("/" if rel.endswith("/") else "")


def collect(paths: Iterable[str | Path]) -> list[Path]:
    """The files :func:`survey` would grade (and paths that do not exist, so
    that the caller sees them fail)."""
    s = survey(paths)
    return s.paths + [Path(m) for m in s.missing]


def _count(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder, followlinks=False))


def _walk(root: Path, notebook: str):
    candidates: list[Path] = []
    skipped: list[Skipped] = []
    exports: list[Path] = []     # folders holding a submission_metadata.yml (the zip's top folder, or root)
    for top, dirs, names in os.walk(root, followlinks=False):
        here = Path(top)
        keep = []
        for d in sorted(dirs):
            rel = (here / d).relative_to(root).as_posix()
            if os.path.islink(here / d):
                skipped.append(Skipped(rel + "/", "a symbolic link (not followed)"))
            elif d in _FOLDERS or d.startswith("."):
                n = _count(here / d)
                why = _FOLDERS.get(d, "a hidden folder (its name starts with '.')")
                skipped.append(Skipped(rel + "/", f"{why}; {n} file{'s' * (n != 1)} inside, none graded"))
            else:
                keep.append(d)
        dirs[:] = keep
        for name in sorted(names):
            path = here / name
            rel = path.relative_to(root).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                skipped.append(Skipped(rel, "a symbolic link (not followed)"))
            elif name.startswith("."):
                skipped.append(Skipped(rel, "a hidden file (its name starts with '.')"))
            elif name == METADATA and stat.S_ISREG(mode):
                exports.append(here)
            elif not stat.S_ISREG(mode):
                skipped.append(Skipped(rel, "not a regular file"))
            elif path.suffix.lower() not in SUBMISSION_SUFFIXES:
                skipped.append(Skipped(rel, "not a notebook (.ipynb) or a .py file"))
            else:
                candidates.append(path)
    metadata: dict[str, tuple[Student, ...]] = {}
    folders: dict[Path, str] = {}            # each submission folder of an export -> its key in the metadata
    for export in exports:
        rel = (export / METADATA).relative_to(root).as_posix()
        try:
            meta = read_metadata(export / METADATA)
        except (MetadataError, UnicodeDecodeError) as exc:
            # Names are a convenience; without them every file is still graded.
            skipped.append(Skipped(rel, f"Gradescope's submission metadata, unreadable ({exc}); "
                                        "the submissions are graded without names"))
            continue
        skipped.append(Skipped(rel, "Gradescope's submission metadata (read for names, emails and SIDs)"))
        metadata.update(meta)
        for key in meta:
            folders[export / key] = key
    entries = [Entry(p.relative_to(root).as_posix(), p) for p in candidates
               if not any(parent in folders for parent in p.parents)]
    for folder in sorted(folders, key=lambda f: f.relative_to(root).as_posix()):
        rel_folder = folder.relative_to(root).as_posix()
        if not folder.is_dir():
            skipped.append(Skipped(rel_folder + "/", f"listed in {METADATA} but not in the folder"))
            continue
        entry = _export_entry(root, folder, notebook)
        entries.append(entry)
        for p in candidates:
            if folder in p.parents and p != entry.path:
                why = (f"another file of the same submission; {entry.id} is the one graded" if entry.path
                       else f"{rel_folder}/ holds no single file to grade (see its report)")
                skipped.append(Skipped(p.relative_to(root).as_posix(), why))
    entries.sort(key=lambda e: e.id)
    skipped.sort(key=lambda s: s.id)
    return entries, skipped, metadata


def _export_entry(root: Path, folder: Path, notebook: str) -> Entry:
    """The one file of a Gradescope submission folder, chosen by Gradescope's own rule."""
    from .gradescope.locate import find_submission

    found = find_submission(folder, notebook)
    if found.path is None:
        return Entry(folder.relative_to(root).as_posix() + "/", None, found.problem)
    return Entry(found.path.relative_to(root).as_posix(), found.path)


# -- grading -------------------------------------------------------------------

# The assignment a pool worker grades, loaded once by _start_worker.
_worker: dict[str, Assignment] = {}


def _start_worker(assignment_path: str, limits) -> None:
    """A pool worker loads the assignment once and starts its sandbox template,
    whose imports overlap the assignment's derivations."""
    from multiprocessing.util import Finalize

    from .prestart import warm_up
    from .sandbox import Limits, SandboxError, shutdown

    # A pool worker ends with os._exit, past atexit: this ends its template.
    Finalize(None, shutdown, exitpriority=10)
    try:
        warm_up(Path(assignment_path), limits or Limits(), wait=False)
    except SandboxError:
        pass  # grading the first file reports it
    try:
        _worker[assignment_path] = load_assignment(assignment_path)
    except Exception:  # noqa: BLE001 - an initializer that raises breaks the whole pool
        pass           # _grade_one loads it again and reports what is wrong


def _grade_one(args: tuple) -> Report:
    """(assignment folder, submission path[, limits]): plain strings unless limits are set."""
    from .grading import grade   # here, not at the top: `lstm-grader --help` must not pay for SymPy

    assignment_path, submission, *limits = args
    assignment = _worker.get(assignment_path) or load_assignment(assignment_path)
    return grade(assignment, submission, *limits)


def not_graded(assignment: Assignment, submission: str, reason: str, grader_error: bool = False) -> Report:
    """A zero report that says why: the student's problem (``reason`` as a
    note) or, with ``grader_error``, ours."""
    questions = tuple(QuestionResult(q.id, q.title, q.function, 0.0, q.points, (f"not graded: {reason}",),
                                     manual=q.kind == "manual")
                      for q in assignment.questions)
    return Report(assignment.name, submission, 0.0, assignment.max_score, questions,
                  messages=() if grader_error else (reason,), grader_error=reason if grader_error else "")


def grade_many(assignment: Assignment, paths: Sequence[Path], jobs: int = 1,
               progress: Callable[[int, int, Report], None] | None = None,
               ids: Sequence[str] | None = None, limits=None) -> list[Report]:
    """Reports in the order of ``paths``, named ``ids`` when given (else the
    file's name). With jobs > 1 each worker process keeps its own cache of
    derivations, so they are paid once per worker, not per file; a worker that
    dies takes no other submission's result with it."""
    names = list(ids) if ids is not None else [Path(p).name for p in paths]
    reports: list[Report | None] = [None] * len(paths)
    done = 0

    def finish(k: int, report: Report) -> None:
        nonlocal done
        reports[k] = replace(report, submission=names[k])
        done += 1
        if progress:
            progress(done, len(paths), reports[k])

    if jobs <= 1 or len(paths) <= 1:
        for k, p in enumerate(paths):
            finish(k, _guarded(assignment, p, limits))
        return reports  # type: ignore[return-value]
    work = [(str(assignment.root), str(p), *((limits,) if limits is not None else ())) for p in paths]
    pending = _pool_round(work, range(len(paths)), jobs, assignment, finish)
    # A dead worker fails every future of its pool, guilty or not. Grade those
    # again with one worker, in order: when that pool dies too, the first file
    # not finished is the one it died on; the rest go round again.
    while pending:
        lost = _pool_round(work, pending, 1, assignment, finish)
        if not lost:
            break
        culprit, pending = lost[0], lost[1:]
        finish(culprit, not_graded(assignment, Path(work[culprit][1]).name,
                                   "the process grading this file died", grader_error=True))
    return reports  # type: ignore[return-value]


def _guarded(assignment: Assignment, path, limits=None) -> Report:
    try:
        from .grading import grade

        return grade(assignment, path, *((limits,) if limits is not None else ()))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:   # grade() catches Exception; this is the rest
        return not_graded(assignment, Path(path).name, _detail(exc), grader_error=True)


def _detail(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _pool_round(work, indices, jobs, assignment, finish) -> list[int]:
    """Grade ``indices`` in a pool of ``jobs`` workers; return, in order, those
    lost because a worker died."""
    # forkserver: workers start from a clean interpreter, never from a fork of a
    # process that may hold locks or child pipes.
    context = multiprocessing.get_context("forkserver")
    lost = []
    start = work[0][0], (work[0][2] if len(work[0]) > 2 else None)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                             initargs=start) as pool:
        futures: dict[Future, int] = {pool.submit(_grade_one, work[k]): k for k in indices}
        for future in as_completed(futures):
            k = futures[future]
            try:
                finish(k, future.result())
            except BrokenProcessPool:
                lost.append(k)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:   # a SystemExit raised in the worker comes back as itself
                finish(k, not_graded(assignment, Path(work[k][1]).name, _detail(exc), grader_error=True))
    return sorted(lost)


# -- gradebooks -----------------------------------------------------------------

FORMATS = ("csv", "gradescope", "canvas")


def _num(x: float) -> str:
    return f"{round(x, 4):g}"


def write_gradebook(reports: Sequence[Report], assignment: Assignment, path: str | Path, fmt: str = "csv",
                    identities: dict[str, Identity] | None = None, roster: Roster | None = None) -> None:
    """One row per student (per submission when nobody is known), in one of
    :data:`FORMATS`:

    - ``csv``: submission, total, maximum, one column per question (the
      hand-graded ones left empty), name, email, SID and the reason for
      anything that could not be graded;
    - ``gradescope``: the layout of Gradescope's own "Download Grades" CSV of
      an assignment (Name, SID, Email, Total Score, Max Points, Status,
      Submission ID, then "N: title (P pts)" per question);
    - ``canvas``: Canvas's gradebook import (Student, ID, SIS User ID, SIS
      Login ID, Section, then the assignment, with a "Points Possible" row).

    Students of the roster with no submission get a row saying so. Every cell
    goes through textsafe.csv_cell: a name or a message cannot be a formula."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown gradebook format {fmt!r}; choose one of {', '.join(FORMATS)}")
    identities = identities or {}
    rows = [(r, s) for r in reports for s in (identities.get(r.submission, Identity(r.submission)).students
                                              or (Student(),))]
    seen = {s for _, s in rows}
    absent = roster.missing(seen) if roster is not None else []
    table = {"csv": _plain, "gradescope": _gradescope, "canvas": _canvas}[fmt](rows, absent, assignment, identities)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        for row in table:
            writer.writerow([textsafe.csv_cell(c) for c in row])


def _notes(r: Report) -> str:
    if r.grader_error:
        return f"GRADER ERROR: {r.grader_error}"
    return "; ".join(r.messages[:3])


def _question_cells(r: Report, assignment: Assignment) -> list[str]:
    scores = {q.name: q for q in r.questions}
    return ["" if q.kind == "manual" or q.id not in scores else _num(scores[q.id].score)
            for q in assignment.questions]


def _plain(rows, absent, assignment, identities):
    yield ["submission", "score", "max_score", *(q.id for q in assignment.questions), "name", "email", "sid",
           "notes"]
    for r, s in rows:
        yield [r.submission, _num(r.score), _num(r.max_score), *_question_cells(r, assignment),
               s.name, s.email, s.sid, _notes(r)]
    for s in absent:
        yield ["", "", _num(assignment.max_score), *([""] * len(assignment.questions)), s.name, s.email, s.sid,
               "no submission"]


def _gradescope(rows, absent, assignment, identities):
    total = sum(q.points for q in assignment.questions)
    yield ["Name", "SID", "Email", "Total Score", "Max Points", "Status", "Submission ID",
           *(f"{k}: {q.title} ({q.points:.1f} pts)" for k, q in enumerate(assignment.questions, 1))]
    for r, s in rows:
        gid = identities[r.submission].submission_id if r.submission in identities else ""
        yield [s.name, s.sid, s.email, _num(r.score), _num(total), "Graded", gid, *_question_cells(r, assignment)]
    for s in absent:
        yield [s.name, s.sid, s.email, "", _num(total), "Missing", "", *([""] * len(assignment.questions))]


def _canvas(rows, absent, assignment, identities):
    # Canvas matches a row by its ID (Canvas's own user id), then SIS User ID,
    # then SIS Login ID, then the name; a blank score changes nothing, so
    # students without a submission are left out.
    yield ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment.title]
    yield ["Points Possible", "", "", "", "", _num(assignment.max_score)]
    for r, s in rows:
        yield [s.name, "", s.sid, "", "", _num(r.score)]


def progress_bar(stream=sys.stderr, clock: Callable[[], float] = time.monotonic
                 ) -> Callable[[int, int, Report], None]:
    """A one-line bar with the time left, estimated from the pace so far."""
    start = clock()

    def show(done: int, total: int, report: Report) -> None:
        width = 30
        filled = int(width * done / total)
        name = textsafe.one_line(report.submission)[-30:]
        elapsed = clock() - start
        if done == total:
            when = f"done in {_clock(elapsed)}"
        else:
            when = f"ETA {_clock(elapsed / done * (total - done))}"
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {when} {name:<30}")
        if done == total:
            stream.write("\n")
        stream.flush()
    return show


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"
