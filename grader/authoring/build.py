"""Build a pack's student notebook from its instructor solution notebook.

The output is a pure function of the pack's files: cell ids come from the
solution (or from the cell's position when the solution has none), outputs and
execution counts are dropped, and the JSON is written the one way nbformat
writes it. So regenerating an up-to-date notebook changes no byte, and a stale
committed notebook is detected by comparing bytes.
"""
from __future__ import annotations

import copy
import hashlib
import inspect
import re
import zlib
from pathlib import Path

import nbformat

from ..assignment import ASSIGNMENTS_DIR, Assignment, AssignmentError, load_assignment
from . import selfcheck
from .publictests import EmbedError, pack, public_tests, unpack
from .regions import MANUAL_PROMPT, RegionError, has_marker, strip_code, strip_markdown

SOLUTION = "solution.ipynb"
# Editor state that differs between two saves of the same notebook.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled", "jupyter")
SETUP_DIVIDER = "# " + "-" * 77


class AuthoringError(Exception):
    """A pack whose student notebook cannot be built; names the pack and, if any, the cell."""

    def __init__(self, pack: str, message: str, cell: int | None = None):
        self.pack, self.cell, self.message = pack, cell, message
        where = f"{pack}, {SOLUTION} cell {cell}" if cell else pack
        super().__init__(f"{where}: {message}")


def pack_dirs(root: Path = ASSIGNMENTS_DIR) -> list[Path]:
    """Every pack that has a solution notebook to build from."""
    if not Path(root).is_dir():
        return []
    return sorted(d for d in Path(root).iterdir() if (d / "assignment.toml").is_file() and (d / SOLUTION).is_file())


def student_path(assignment: Assignment) -> Path:
    if not assignment.notebook:
        raise AuthoringError(assignment.name, "assignment.toml names no student `notebook`")
    if Path(assignment.notebook).name != assignment.notebook or assignment.notebook == SOLUTION:
        raise AuthoringError(assignment.name, f"`notebook` must be a plain file name other than {SOLUTION}, "
                                              f"not {assignment.notebook!r}")
    return assignment.root / assignment.notebook


def load_pack(pack_dir: str | Path) -> tuple[Assignment, nbformat.NotebookNode]:
    try:
        assignment = load_assignment(pack_dir)
    except AssignmentError as exc:
        raise AuthoringError(Path(pack_dir).name, str(exc)) from None
    path = assignment.root / SOLUTION
    if not path.is_file():
        raise AuthoringError(assignment.name, f"has no {SOLUTION}")
    return assignment, nbformat.read(path, as_version=4)


# Colab shows a cell with this first line and cellView "form" as its title alone.
SETUP_TITLE = "# @title Setup: helpers and the self-check check(\"q1\") / check_all(). Run this cell first."


def setup_source(assignment: Assignment, helpers: str) -> str:
    """The student's first code cell: the pack's helpers, then the self-check
    runtime called with the public tests packed on one line."""
    try:
        data = pack(public_tests(assignment))
    except EmbedError as exc:
        raise AuthoringError(assignment.name, f"a public test cannot be embedded: {exc}") from None
    runtime = inspect.getsource(selfcheck._selfcheck)
    parts = [SETUP_TITLE + ("\n" + helpers.rstrip("\n") if helpers.strip() else "")]
    parts.append(
        f"{SETUP_DIVIDER}\n"
        "# Self-check: run check(\"q1\") for one question or check_all() for all of them.\n"
        "# They run the autograder's public tests here, without the autograder.\n"
        "# Nothing below needs reading or editing.\n"
        f"{SETUP_DIVIDER}\n\n\n"
        f"{runtime.rstrip()}\n\n\n"
        f'check, check_all = _selfcheck(globals(), "{data}")\n'
        "del _selfcheck")
    return "\n\n\n".join(parts)


def _cell_id(assignment: Assignment, index: int, cell) -> str:
    if cell.get("id"):
        return cell["id"]
    return hashlib.sha256(f"{assignment.name}/{index}".encode()).hexdigest()[:8]


def _setup_cell(cell):
    # Students never need to change it, and a stray edit would break check().
    cell.metadata["editable"] = False
    cell.metadata["deletable"] = False
    # Shown as one collapsed line: nbformat 4.5's jupyter.source_hidden is what
    # JupyterLab, Notebook 7 and VS Code honour; Colab reads cellView "form" with the
    # @title line. Not "collapsed": in nbformat that hides the outputs, and a
    # student must see it if this cell fails.
    cell.metadata["jupyter"] = {"source_hidden": True}
    cell.metadata["cellView"] = "form"
    return cell


def _clean(cell, cell_id: str, source: str):
    out = copy.deepcopy(cell)
    out["id"], out["source"] = cell_id, source
    for key in VOLATILE_CELL_METADATA:
        out["metadata"].pop(key, None)
    if out["cell_type"] == "code":
        out["outputs"], out["execution_count"] = [], None
    return out


def build_student_notebook(pack_dir: str | Path) -> nbformat.NotebookNode:
    return _build(pack_dir)[1]


def _build(pack_dir: str | Path) -> tuple[Assignment, nbformat.NotebookNode]:
    assignment, solution = load_pack(pack_dir)
    helpers = assignment.preamble
    manual = [q for q in assignment.questions if q.kind == "manual"]
    answers = []  # markdown answer cells, in order, to pair with the manual questions
    cells = []
    setup_done = False
    for index, cell in enumerate(solution.cells):
        number = index + 1
        cid = _cell_id(assignment, index, cell)
        try:
            if cell.cell_type == "code" and not setup_done:
                setup_done = True
                if helpers:
                    if cell.source.strip() != helpers.strip():
                        raise AuthoringError(assignment.name, "the first code cell must be the pack's preamble "
                                                              "file verbatim (the grader runs that file, students "
                                                              "run this cell)", number)
                    cells.append(_setup_cell(_clean(cell, cid, setup_source(assignment, helpers))))
                    continue
                cells.append(_setup_cell(nbformat.v4.new_code_cell(setup_source(assignment, ""), id="selfcheck")))
            if cell.cell_type == "code":
                stripped = strip_code(cell.source)
            elif cell.cell_type == "markdown":
                stripped = strip_markdown(cell.source)
            elif has_marker(cell.source):
                raise RegionError("a raw cell cannot hold a solution region")
            else:
                stripped = None
        except RegionError as exc:
            raise AuthoringError(assignment.name, str(exc), number) from None
        out = _clean(cell, cid, stripped.source if stripped else cell.source)
        if cell.cell_type == "markdown" and stripped.solutions:
            answers.append(out)
        cells.append(out)
    _mark_manual(assignment, manual, answers)
    if not setup_done:
        raise AuthoringError(assignment.name, f"{SOLUTION} has no code cell")
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(solution.metadata))
    nb.nbformat_minor = max(solution.nbformat_minor, 5)  # cell ids need 4.5
    nb.metadata.setdefault("lstm_grader", {})["assignment"] = assignment.name
    nbformat.validate(nb)
    return assignment, nb


def _mark_manual(assignment: Assignment, manual: list, answers: list) -> None:
    """Tell graders (and Gradescope's manual grading) which cell answers which question."""
    if len(answers) != len(manual):
        raise AuthoringError(assignment.name, f"{len(manual)} question(s) are graded by hand "
                                              f"({', '.join(q.id for q in manual) or 'none'}) but {SOLUTION} "
                                              f"has {len(answers)} markdown solution region(s); pair them one "
                                              "to one, in order")
    for q, cell in zip(manual, answers):
        if cell.source.count(MANUAL_PROMPT) != 1:
            raise AuthoringError(assignment.name, f"the answer cell of {q.id} holds more than one solution region")
        cell.metadata["lstm_grader"] = {"manual": True, "question": q.id, "points": q.points}
        cell.metadata["deletable"] = False


def _text(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def student_notebook_text(pack_dir: str | Path) -> str:
    return _text(build_student_notebook(pack_dir))


# The packed tests as they appear in the notebook's JSON text (quotes escaped).
_PACKED_IN_FILE = re.compile(r'_selfcheck\(globals\(\), \\"([A-Za-z0-9+/=]*)\\"\)')


def _same_notebook(old: bytes, new: str) -> bool:
    """Byte-equal, or equal but for the packed tests' bytes with the same tests
    inside: another zlib build may compress the same JSON differently, which is
    no reason to call a notebook stale or to rewrite it."""
    if old == new.encode("utf-8"):
        return True
    try:
        old_text = old.decode("utf-8")
        a, b = _PACKED_IN_FILE.findall(old_text), _PACKED_IN_FILE.findall(new)
        return (len(a) == len(b) == 1 and _PACKED_IN_FILE.sub("", old_text) == _PACKED_IN_FILE.sub("", new)
                and unpack(a[0]) == unpack(b[0]))
    except (UnicodeDecodeError, ValueError, zlib.error):  # binascii.Error is a ValueError
        return False


def write_student_notebook(pack_dir: str | Path) -> tuple[Path, bool]:
    """Write the pack's student notebook; returns its path and whether it changed."""
    assignment, nb = _build(pack_dir)
    path = student_path(assignment)
    new = _text(nb)
    changed = not path.is_file() or not _same_notebook(path.read_bytes(), new)
    if changed:
        path.write_bytes(new.encode("utf-8"))
    return path, changed


def stale_student_notebook(pack_dir: str | Path) -> Path | None:
    """The committed student notebook's path if it differs from a fresh build, else None."""
    assignment, nb = _build(pack_dir)
    path = student_path(assignment)
    stale = not path.is_file() or not _same_notebook(path.read_bytes(), _text(nb))
    return path if stale else None
