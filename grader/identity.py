"""Who a submission belongs to: ids, Gradescope's export metadata, a roster.

A submission's id is its path relative to the folder the TA named
(``submission_123456/lstm_scalar.ipynb``): in Gradescope's export every
student's file has the same name, so the name alone tells nobody apart.

Gradescope's "Export Submissions" zip holds one folder per submission,
``submission_<id>/``, and ``submission_metadata.yml`` mapping each folder to
its submitters::

    submission_123456:
      :submitters:
      - :name: Ada Lovelace
        :sid: '1815'
        :email: ada@example.edu
      :created_at: 2024-03-01 10:00:00.000000000 -08:00
      :score: 31.0
      :results: { ...the whole results.json, nested... }

The file is written by Ruby's YAML and can carry Ruby-specific tags and large
nested results; only the submitters are needed, so this module reads exactly
that part (the scalars of each ``:submitters:`` list) and ignores the rest
rather than depend on a YAML library that would refuse the whole file over a
tag it does not know.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

METADATA = "submission_metadata.yml"


@dataclass(frozen=True)
class Student:
    name: str = ""
    email: str = ""
    sid: str = ""


@dataclass(frozen=True)
class Identity:
    """A submission and the students it belongs to (several for a group)."""

    id: str
    students: tuple[Student, ...] = ()
    submission_id: str = ""   # Gradescope's, from a ``submission_<id>`` folder

    @property
    def names(self) -> str:
        return "; ".join(s.name for s in self.students if s.name)


class MetadataError(ValueError):
    pass


# -- Gradescope's submission_metadata.yml ------------------------------------

_ITEM_KEY = re.compile(r"^(-\s+)?:?([\w-]+):(?:\s+(.*))?$")


def _scalar(text: str) -> str:
    """A YAML scalar as Ruby's Psych writes one: plain, 'single' or "double" quoted."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r'\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)', _unescape, text[1:-1])
    if text in ("", "~", "null"):
        return ""
    return re.split(r"\s#", text)[0].strip()


def _unescape(m: re.Match) -> str:
    code = m.group(1)
    if code[0] in "ux" and len(code) > 1:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, code)


# YAML's double-quoted escapes (a control character survives here and is
# removed by textsafe wherever it is shown).
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r",
            "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
            "L": "\u2028", "P": "\u2029"}


def _logical_lines(text: str):
    """(indent, content) per line, with a quoted scalar that Psych folded over
    several lines joined back into one."""
    pending = None
    for raw in text.splitlines():
        if pending is not None:
            pending = (pending[0], pending[1] + " " + raw.strip())
            if _closed(pending[1]):
                yield pending
                pending = None
            continue
        content = raw.strip()
        if not content or content.startswith("#") or content in ("---", "..."):
            continue
        line = (len(raw) - len(raw.lstrip(" ")), content)
        if _closed(content):
            yield line
        else:
            pending = line
    if pending is not None:
        yield pending


def _closed(content: str) -> bool:
    value = content.split(": ", 1)[1].lstrip() if ": " in content else ""
    if value[:1] == "'":
        return len(value) > 1 and value.endswith("'") and (len(value) - len(value.rstrip("'"))) % 2 == 1
    if value[:1] == '"':
        return len(value) > 1 and value.endswith('"') and not value.endswith('\\"')
    return True


def read_metadata(path: str | Path) -> dict[str, tuple[Student, ...]]:
    """Folder name -> its submitters, from a Gradescope ``submission_metadata.yml``."""
    out: dict[str, list[Student]] = {}
    folder = None
    list_at = None       # indentation of the ":submitters:" key while inside its list
    item_at = None       # indentation of the list's "- " items
    item: dict[str, str] | None = None

    def close_item():
        nonlocal item
        if item is not None:
            out[folder].append(Student(item.get("name", ""), item.get("email", ""), item.get("sid", "")))
        item = None

    for indent, content in _logical_lines(Path(path).read_text(encoding="utf-8-sig")):
        if indent == 0 and not content.startswith("- "):
            close_item()
            list_at = item_at = None
            folder = None
            if content.endswith(":") or ": " in content:     # a key; anything else is not the metadata
                folder = _scalar(content[:-1]) if content.endswith(":") else _scalar(content.split(": ", 1)[0])
                out.setdefault(folder, [])
            continue
        if folder is None:
            continue
        if list_at is None:
            if content in (":submitters:", "submitters:"):
                list_at = indent
            continue
        dash = content.startswith("- ")
        if dash and item_at is None and indent >= list_at:
            item_at = indent
        if dash and indent == item_at:
            close_item()
            item = {}
        elif indent <= list_at or item is None:
            close_item()                 # back at the level of :submitters:, the list is over
            list_at = item_at = None
            continue
        m = _ITEM_KEY.match(content)
        if m and m.group(2) in ("name", "email", "sid"):
            item[m.group(2)] = _scalar(m.group(3) or "")
    close_item()
    if not out:
        raise MetadataError(f"{path}: no submissions in it; is this Gradescope's {METADATA}?")
    return {k: tuple(v) for k, v in out.items()}


# -- a roster ------------------------------------------------------------------

_COLUMNS = {
    "id": ("id", "submission", "submission id", "file", "username"),
    "name": ("name", "student", "student name", "full name"),
    "email": ("email", "e-mail", "email address"),
    "sid": ("sid", "student id", "sis user id", "student number"),
}


@dataclass(frozen=True)
class Roster:
    rows: tuple[tuple[str, Student], ...]    # (id, student); id may be ""

    def find(self, keys: list[str], emails: list[str]) -> Student | None:
        wanted = {k.lower() for k in keys if k}
        mails = {e.lower() for e in emails if e}
        for rid, student in self.rows:
            if rid and rid.lower() in wanted or student.email and student.email.lower() in mails:
                return student
        return None

    def missing(self, found) -> list[Student]:
        """The roster's students none of ``found`` is (same email, else same name)."""
        emails = {s.email.lower() for s in found if s.email}
        names = {s.name for s in found if s.name}
        return [s for _, s in self.rows if not (s.email.lower() in emails if s.email else s.name in names)]


def read_roster(path: str | Path) -> Roster:
    """A CSV with a header naming (any of) id, name, email and SID columns;
    "First Name"/"Last Name" columns are joined. Matching is case-insensitive."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        headers = {h.strip().lower(): h for h in reader.fieldnames or () if h}
        column = {field: next((headers[a] for a in aliases if a in headers), None)
                  for field, aliases in _COLUMNS.items()}
        first, last = headers.get("first name"), headers.get("last name")
        if not column["id"] and not column["email"]:
            raise ValueError(f"{path}: a roster needs an id or an email column; its columns are "
                             f"{', '.join(reader.fieldnames or ()) or 'none'}")
        rows = []
        for raw in reader:
            get = lambda field: (raw.get(column[field]) or "").strip() if column[field] else ""
            name = get("name") or " ".join(p for p in ((raw.get(first) or "").strip() if first else "",
                                                       (raw.get(last) or "").strip() if last else "") if p)
            rows.append((get("id"), Student(name, get("email"), get("sid"))))
    return Roster(tuple(rows))


# -- putting it together -------------------------------------------------------

def gradescope_folder(submission_id: str, metadata=None) -> str:
    """The submission folder of an id in a Gradescope export: the first folder
    of its path that the metadata lists (or that is named ``submission_<n>``)."""
    parts = PurePosixPath(submission_id).parts
    folders = parts[:-1] if not submission_id.endswith("/") else parts
    for part in folders:
        if part in (metadata or {}) or re.fullmatch(r"submission_\d+", part):
            return part
    return ""


def identify(submission_id: str, metadata: dict[str, tuple[Student, ...]] | None = None,
             roster: Roster | None = None) -> Identity:
    """The students behind ``submission_id``: Gradescope's metadata first, then
    the roster (by id, by the file's name without suffix, by its first folder,
    or by an email the metadata gave)."""
    folder = gradescope_folder(submission_id, metadata)
    students = tuple((metadata or {}).get(folder, ()))
    gid = folder.removeprefix("submission_") if folder else ""
    if roster is not None:
        path = PurePosixPath(submission_id)
        keys = [submission_id.rstrip("/"), str(path.with_suffix("")), path.stem, path.parts[0], gid]
        if students:
            students = tuple(_merge(s, roster.find(keys, [s.email])) for s in students)
        else:
            found = roster.find(keys, [])
            students = (found,) if found else ()
    return Identity(submission_id, students, gid)


def _merge(student: Student, row: Student | None) -> Student:
    if row is None:
        return student
    return Student(student.name or row.name, student.email or row.email, student.sid or row.sid)
