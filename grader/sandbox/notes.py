"""Sentences about the top-level statements of a cell that were skipped or raised.

The child reports each one as plain data (statements.py, ``Run.notes``); this
module checks that data field by field and words it for the student. A note
names the cell, the line (or, for code that could not be compiled, the lines
skipped), the statement's first line, and what went wrong.
"""
from __future__ import annotations

from typing import Any

MAX_NOTES = 20        # the child's cap too (child.MAX_NOTES); more are only counted
TEXT_CHARS = 80
ERROR_CHARS = 500
FIX_CHARS = 120


def statement_notes(cell: int, raw: Any, more: Any = 0) -> tuple[str, ...]:
    """One sentence per failed statement of ``cell``, in cell order."""
    if not isinstance(raw, list):
        return ()
    notes = [_sentence(cell, note) for note in raw[:MAX_NOTES] if isinstance(note, dict)]
    notes = [note for note in notes if note]
    if type(more) is int and more > 0:
        notes.append(f"cell {cell}: {more} more top-level statement(s) failed (not listed)")
    return tuple(notes)


def _sentence(cell: int, note: dict) -> str:
    line, end = _number(note.get("line")), _number(note.get("end"))
    if line is None:
        return ""
    end = end if end is not None and end >= line else line
    text = _text(note.get("text"), TEXT_CHARS)
    quoted = f" (`{text}`)" if text else ""
    error = _text(note.get("error"), ERROR_CHARS) or "failed"
    rest = "; the rest of the cell still ran" if note.get("rest") is True else ""
    if note.get("kind") == "syntax":
        return _skipped(cell, line, end, quoted, error, note) + rest
    where = _text(note.get("where"), TEXT_CHARS)
    raised = f" (raised at {where})" if where and where != f"cell {cell}, line {line}" else ""
    return f"cell {cell}, line {line}{quoted}: {error}{raised}{rest}"


def _skipped(cell: int, line: int, end: int, quoted: str, error: str, note: dict) -> str:
    """Code that could not be compiled, so it never ran."""
    one = line == end
    at = _number(note.get("at"))
    at = at if at is not None and line <= at <= end else line
    fix = _text(note.get("python2"), FIX_CHARS)
    if fix:
        what = f"{'this' if one else f'line {at}'} is Python 2 syntax: write {fix}"
    else:
        what = error if one else f"{error} at line {at}"
    where = f"cell {cell}, line {line}" if one else f"cell {cell}, lines {line}-{end}"
    skipped = "this line was skipped" if one else "these lines were skipped"
    name = _text(note.get("defines"), TEXT_CHARS)
    if name.isidentifier():
        skipped += f", so {name} is not defined"
    return f"{where}{quoted}: {what}; {skipped}"


def _number(value: Any) -> int | None:
    return value if type(value) is int and 0 < value < 10**9 else None


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    value = value.replace("\r", " ").replace("\n", " ")  # one line: a note is a sentence
    return value if len(value) <= limit else value[:limit - 3] + "..."
