"""Read a student's submission (.ipynb or .py) into a Submission, never running any of it.

Everything here is about surviving what students actually upload: notebooks cut
off mid-upload, files saved by old tools, IPython-only syntax that plain Python
rejects. A problem confined to one cell costs that cell, never the whole file;
SubmissionError is only for files with nothing gradable in them.

Python syntax is not checked here: cells are compiled in the sandbox child, one
top-level statement at a time, so that a broken statement costs only itself
(grader/sandbox/statements.py) and the grader's own process never parses
student code, whose size is unbounded. What this module does to the text is
linear in its size.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import nbformat

from grader.sandbox.child.statements import Scanner as _Scanner  # the child's own: one scanner, two users
from grader.source import CodeCell, SourceProblem, Submission, SubmissionError

ACCEPTED_SUFFIXES = (".ipynb", ".py")

# Cell magics whose body is ordinary Python run in the user's namespace, so the
# definitions in it survive in Jupyter and must survive here too.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})

# Line magics that cannot make a definition go missing (display, tooling, or
# %timeit, whose statement runs in a throwaway scope), so reporting them is noise.
# %time is quiet too unless its statement assigns something.
QUIET_LINE_MAGICS = frozenset({
    "matplotlib", "config", "load_ext", "reload_ext", "autoreload", "pip", "conda",
    "who", "whos", "pwd", "precision", "xmode", "pdb", "lsmagic", "env", "timeit", "time",
})
_ASSIGNS = re.compile(r"(?<![=!<>])=(?!=)")

# `x?`, `np.tanh??`, `?x`: never valid Python, so matching them cannot misfire.
_HELP = re.compile(r"^\s*(\?{1,2}[\w.*%]*|%{0,2}[\w.*]+\?{1,2})\s*(#.*)?$")
# `x = %time f()`, `files = !ls`: Python never has `%` or `!` right after an
# assignment `=`, and the target may not contain quotes, so `"a = %d" % b` is safe.
_ASSIGN_MAGIC = re.compile(r"^\s*[\w.,\[\]() ]+?\s*=\s*[%!]")
_LINE_MAGIC_NAME = re.compile(r"%+(\w*)")
_PY_MARKER = re.compile(r"^#\s*%%(?:\s|$)")
_PY_NOT_CODE = re.compile(r"\[(?:markdown|md|raw)\]")


def load_submission(path: str | Path) -> Submission:
    """Read ``path`` into numbered code cells plus the problems found reading it.

    Raises SubmissionError only when nothing in the file can be graded."""
    path = Path(path)
    text = _read_text(path)
    problems: list[SourceProblem] = []
    is_notebook = path.suffix.lower() == ".ipynb"
    blocks = _notebook_blocks(path, text, problems) if is_notebook else _py_blocks(text)
    cells: list[CodeCell] = []
    seen_code = False
    for number, source in blocks:
        if source is None:
            continue
        source = source.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
        if not source.strip():
            continue
        seen_code = True
        cell = _prepare_cell(number, source, problems)
        if cell is not None:
            cells.append(cell)
    if not seen_code:
        problems.append(SourceProblem(None, f"the {'notebook' if is_notebook else 'file'} has no code cells"))
    problems.sort(key=lambda p: p.cell or 0)  # file-wide notes first, then in cell order
    return Submission(path=path, cells=tuple(cells), problems=tuple(problems))


def _read_text(path: Path) -> str:
    # os.path, unlike Path on 3.10, answers False instead of raising on odd permissions.
    if not os.path.exists(path):
        raise SubmissionError(path, "the file does not exist")
    if os.path.isdir(path):
        raise SubmissionError(path, "is a folder, not a file; submit the .ipynb or .py file itself")
    if path.suffix.lower() not in ACCEPTED_SUFFIXES:
        found = f"the extension '{path.suffix}'" if path.suffix else "no extension"
        raise SubmissionError(
            path, f"has {found}, but only Jupyter notebooks (.ipynb) and Python files (.py) can be graded"
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SubmissionError(path, f"the file cannot be read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8-sig")  # -sig: editors on Windows like to prepend a BOM
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SubmissionError(
            path,
            f"is not UTF-8 text (byte 0x{data[e.start]:02x} on line {line} is not valid UTF-8); "
            "save the file with UTF-8 encoding and submit it again",
        ) from None
    if not text.strip():
        raise SubmissionError(path, "the file is empty")
    return text


# --- .ipynb -----------------------------------------------------------------


def _notebook_blocks(path: Path, text: str, problems: list[SourceProblem]) -> list[tuple[int, str | None]]:
    """(number, source) for every cell; source is None for non-code cells."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        what = e.msg.removesuffix(" starting at")  # line and column already say where
        message = f"is not a Jupyter notebook: it is not valid JSON (line {e.lineno}, column {e.colno}: {what})"
        # json says "Unterminated string" only on reaching the end of the text (a
        # newline inside a string is "Invalid control character" instead).
        if e.msg.startswith("Unterminated string") or not text[e.pos:].strip():
            message += (
                "; the file ends before the notebook does, so it was probably cut off while "
                "uploading or saving: save it again in Jupyter and resubmit"
            )
        raise SubmissionError(path, message) from None
    if not isinstance(raw, dict):
        kind = {list: "a list", str: "a string", int: "a number", float: "a number"}.get(type(raw), "a single value")
        raise SubmissionError(path, f"is not a Jupyter notebook: it is valid JSON, but {kind} rather than a notebook")
    if "nbformat" not in raw:
        raise SubmissionError(path, 'is not a Jupyter notebook: it is valid JSON, but has no "nbformat" version field')
    version = raw["nbformat"]
    if version not in (3, 4):
        raise SubmissionError(
            path,
            f"uses notebook format version {version!r}, which cannot be graded: only versions 4 and 3 are "
            "supported; open it in a recent Jupyter and save it, which converts it to version 4",
        )
    raw["nbformat"] = version = int(version)
    _repair(path, raw, problems)
    if version == 3:
        problems.append(SourceProblem(
            None, "the notebook uses the old format version 3; it was converted to version 4 to be graded"
        ))
    with warnings.catch_warnings():
        # nbformat warns (missing cell ids, old minor versions) about things _repair
        # either fixed or that cannot affect grading; they must not reach the caller.
        warnings.simplefilter("ignore")
        try:
            nb = nbformat.reads(json.dumps(raw), as_version=4, capture_validation_error={})
        except (nbformat.ValidationError, ValueError, KeyError, AttributeError, TypeError) as e:
            raise SubmissionError(path, f"is a damaged notebook that nbformat cannot read ({e})") from None
    return [(n, c.source if c.cell_type == "code" else None) for n, c in enumerate(nb.cells, 1)]


def _repair(path: Path, raw: dict, problems: list[SourceProblem]) -> None:
    """Bring the JSON into a shape nbformat reads without raising, keeping every
    cell in place so that cell numbers still match what the student sees."""
    if not isinstance(raw.get("metadata"), dict):
        raw["metadata"] = {}
    if not isinstance(raw.get("nbformat_minor"), int):
        raw["nbformat_minor"] = 0
    if raw["nbformat"] == 4:
        cell_lists = [raw.get("cells")]
        if not isinstance(cell_lists[0], list):
            raise SubmissionError(path, 'is a damaged notebook: it has no "cells" list')
    else:
        worksheets = raw.setdefault("worksheets", [])
        ok = isinstance(worksheets, list) and all(isinstance(w, dict) for w in worksheets)
        cell_lists = [w.setdefault("cells", []) for w in worksheets] if ok else [None]
        if not all(isinstance(cells, list) for cells in cell_lists):
            raise SubmissionError(path, 'is a damaged notebook: its "worksheets" have no "cells" lists')
    number = 0
    for cells in cell_lists:
        for i, cell in enumerate(cells):
            number += 1
            cell_type = cell.get("cell_type") if isinstance(cell, dict) else None
            key = "input" if raw["nbformat"] == 3 and cell_type == "code" else "source"
            source = cell.get(key, "") if isinstance(cell, dict) else None
            if isinstance(cell_type, str) and _is_text(source):
                cell[key] = source
                if not isinstance(cell.get("metadata"), dict):
                    cell["metadata"] = {}
                cell.pop("attachments", None)  # images in markdown: never graded, easily malformed
                if cell_type == "code":
                    # Outputs are never graded; emptying them avoids tripping over odd ones.
                    cell["outputs"] = []
                    if raw["nbformat"] == 4:
                        cell.setdefault("execution_count", None)
                continue
            cells[i] = {"cell_type": "raw", "source": "", "metadata": {}}
            if cell_type in (None, "code"):  # a damaged markdown cell costs the student nothing
                problems.append(SourceProblem(
                    number, f"cell {number}: this cell is damaged in the notebook file, so it was skipped"
                ))


def _is_text(source: object) -> bool:
    return isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))


# --- .py --------------------------------------------------------------------


def _py_blocks(text: str) -> list[tuple[int, str | None]]:
    """Split at jupytext/VS Code `# %%` markers; markdown and raw blocks get None."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = [i for i, line in enumerate(lines) if _PY_MARKER.match(line)]
    if not starts:
        return [(1, "\n".join(lines))]
    blocks: list[str | None] = []
    # Code before the first marker runs, so it is a block; a comments-only
    # preamble (jupytext's metadata header) is not a cell in any editor.
    if any(line.strip() and not line.lstrip().startswith("#") for line in lines[: starts[0]]):
        blocks.append("\n".join(lines[: starts[0]]))
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        blocks.append(None if _PY_NOT_CODE.search(lines[start]) else "\n".join(lines[start + 1 : end]))
    return list(enumerate(blocks, 1))


# --- IPython syntax -----------------------------------------------------------


def _prepare_cell(number: int, source: str, problems: list[SourceProblem]) -> CodeCell | None:
    lines = source.split("\n")
    head = next(i for i, line in enumerate(lines) if line.strip())
    if lines[head].lstrip().startswith("%%"):
        name = _LINE_MAGIC_NAME.match(lines[head].lstrip()).group(1)
        if name not in PYTHON_BODY_CELL_MAGICS:
            problems.append(SourceProblem(
                number, f"cell {number}: this is a %%{name} cell, not Python, so it was skipped"
            ))
            return None
        # A comment, not a deletion, keeps line numbers in later error messages right.
        lines[head] = f"# {lines[head].strip()}  (IPython cell magic: only the body is graded)"
    return CodeCell(number=number, source="\n".join(_neutralise(number, lines, problems)))


def _neutralise(number: int, lines: list[str], problems: list[SourceProblem]) -> list[str]:
    """Replace IPython-only statements with `pass` at the same indentation.

    Only lines that start a logical line are candidates: inside brackets, after
    a backslash or within a multi-line string, `%` and `!` are plain Python."""
    out: list[str] = []
    scan = _Scanner()
    for line_no, line in enumerate(lines, 1):
        stripped = line.strip()
        if scan.at_statement_start() and stripped and not stripped.startswith("#"):
            is_magic = stripped[0] in "%!" or _ASSIGN_MAGIC.match(line)
            if is_magic or _HELP.match(line):
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}pass  # IPython, not run: {stripped}")
                if is_magic and _worth_reporting(stripped):
                    problems.append(SourceProblem(number, (
                        f"cell {number}, line {line_no}: the IPython command `{stripped}` was not run, "
                        "so anything it defines is missing"
                    )))
                continue  # its text is not Python, so it must not disturb the scanner
        scan.feed(line)
        out.append(line)
    return out


def _worth_reporting(command: str) -> bool:
    """Shell escapes and display settings define nothing; assignments and most magics may."""
    if command[0] == "!":
        return False
    if command[0] == "%":
        name = _LINE_MAGIC_NAME.match(command).group(1)
        return name not in QUIET_LINE_MAGICS or (name == "time" and bool(_ASSIGNS.search(command)))
    return True
