"""Solution regions of the instructor's notebook, and what students get in their place.

Code cells mark a solution with the lines ``### BEGIN SOLUTION`` and
``### END SOLUTION``; markdown cells with ``<!-- BEGIN SOLUTION -->`` and
``<!-- END SOLUTION -->``. Anything that merely looks like a marker (another
number of ``#``, a marker inside other text, an unclosed region) is an error
rather than ordinary text: a misspelt marker would otherwise ship the answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

CODE_BEGIN, CODE_END = "### BEGIN SOLUTION", "### END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
STUB = 'raise NotImplementedError("write your answer here")'
MANUAL_PROMPT = "*Your answer here (graded by hand).*"

_LOOKS_LIKE_MARKER = re.compile(r"(BEGIN|END)\s+SOLUTION", re.IGNORECASE)
_MD_REGION = re.compile(re.escape(MD_BEGIN) + r"(.*?)" + re.escape(MD_END), re.DOTALL)


class RegionError(ValueError):
    """A malformed solution region; the message names the line."""


@dataclass(frozen=True)
class Stripped:
    source: str                 # what the student sees
    solutions: tuple[str, ...]  # the text of every region removed, markers excluded


def strip_code(source: str) -> Stripped:
    """Each region becomes one ``raise NotImplementedError`` at the indentation of its
    BEGIN line, so the ``def`` line and docstring above it still form a function."""
    out: list[str] = []
    solutions: list[str] = []
    body: list[str] | None = None
    for number, line in enumerate(source.split("\n"), 1):
        marker = line.strip()
        if marker == CODE_BEGIN:
            if body is not None:
                raise RegionError(f"line {number}: {CODE_BEGIN} inside another solution region")
            body = []
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == CODE_END:
            if body is None:
                raise RegionError(f"line {number}: {CODE_END} without a {CODE_BEGIN} before it")
            solutions.append("\n".join(body))
            body = None
        elif _LOOKS_LIKE_MARKER.search(line):
            raise RegionError(f"line {number}: {marker!r} looks like a solution marker but is not "
                              f"exactly {CODE_BEGIN!r} or {CODE_END!r} on a line of its own")
        elif body is not None:
            body.append(line)
        else:
            out.append(line)
    if body is not None:
        raise RegionError(f"{CODE_BEGIN} is never closed by {CODE_END}")
    return Stripped("\n".join(out), tuple(solutions))


def strip_markdown(source: str) -> Stripped:
    """Each region becomes the visible prompt of an empty answer."""
    solutions = tuple(m.group(1).strip("\n") for m in _MD_REGION.finditer(source))
    rest = _MD_REGION.sub(MANUAL_PROMPT, source)
    stray = _LOOKS_LIKE_MARKER.search(rest)
    if stray:
        number = rest[: stray.start()].count("\n") + 1
        raise RegionError(f"line {number}: an unmatched or misspelt solution marker; regions are "
                          f"{MD_BEGIN} ... {MD_END}")
    return Stripped(rest, solutions)


def has_marker(source: str) -> bool:
    return bool(_LOOKS_LIKE_MARKER.search(source))
