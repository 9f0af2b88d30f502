"""An assignment is data: ``assignments/<name>/assignment.toml`` declares its questions.

Adding a question means editing that file, never the grader. Loading validates
everything up front and names the culprit question in the error: first the
file's shape against ``grader/schema/assignment.schema.json`` (every key known,
every value of the right type, so a misspelt ``hiden = true`` cannot silently
publish a hidden test), then its meaning (unknown checks, a quantity the cell
does not have, a task that takes no such option).
"""
from __future__ import annotations

import difflib
import inspect
import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10, Gradescope's image
    import tomli as tomllib

ASSIGNMENTS_DIR = Path(os.environ.get("LSTM_GRADER_ASSIGNMENTS", Path(__file__).resolve().parents[1] / "assignments"))
KINDS = ("expression", "task", "manual")
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
SCHEMA = "assignment.schema.json"   # in grader/schema/, shipped as package data


class AssignmentError(Exception):
    """The assignment file is wrong. Carries the assignment and, if any, the question."""

    def __init__(self, assignment: str, question: str | None, message: str):
        self.assignment, self.question, self.message = assignment, question, message
        where = f"{assignment}, question {question}" if question else assignment
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class CheckSpec:
    """One test of a question: which check, its share of the points, who sees it."""

    check: str
    weight: float = 1.0
    hidden: bool = False
    visibility: str = "visible"
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)

    @property
    def label(self) -> str:
        """The check's name, with the kinds of input it uses when it says."""
        regimes = self.option("regimes")
        return f"{self.check} ({', '.join(regimes)})" if regimes else self.check


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float
    kind: str
    function: str = ""
    # expression questions: the gradient of ``target`` at horizon ``at``, as a
    # function of ``params`` (student parameter name -> quantity, in order)
    at: str = "t"
    target: str = ""
    params: tuple[tuple[str, str], ...] = ()
    # task questions: a named numeric reference with options
    task: str = ""
    options: tuple[tuple[str, Any], ...] = ()
    checks: tuple[CheckSpec, ...] = ()
    hint: str = ""
    # The student's own functions behind a driver: when set, ``function`` names a
    # helper of the pack (run as the preamble) that calls them, for answers whose
    # pieces only make sense together (a forward's cache fed to its backward).
    requires: tuple[str, ...] = ()
    # expression questions on another cell than the assignment's (a pack comparing
    # cells): a built-in cell's name or a cell file of the pack, resolved on loading
    cell: str = ""

    def option(self, name: str, default=None):
        return dict(self.options).get(name, default)

    @property
    def student_functions(self) -> tuple[str, ...]:
        """What the student must define for this question."""
        return self.requires or ((self.function,) if self.function else ())

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.params)


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    root: Path
    cell: str
    questions: tuple[Question, ...]
    notebook: str = ""
    preamble: str = ""
    seed: int = 0
    dims: tuple[tuple[str, int], ...] = field(default=())

    @property
    def auto_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.kind != "manual")

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.auto_questions)

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise AssignmentError(self.name, qid, f"no such question; known: {', '.join(q.id for q in self.questions)}")


def known_assignments() -> list[str]:
    """The names of the packs under the assignments folder."""
    if not ASSIGNMENTS_DIR.is_dir():
        return []
    return sorted(d.name for d in ASSIGNMENTS_DIR.iterdir() if (d / "assignment.toml").is_file())


def find_assignment(name_or_path: str | Path) -> Path:
    """The assignment.toml for a name ("lstm_scalar") or a path to its folder or file."""
    p = Path(name_or_path)
    for candidate in (p, p / "assignment.toml", ASSIGNMENTS_DIR / str(name_or_path) / "assignment.toml"):
        if candidate.is_file():
            return candidate.resolve()
    known = known_assignments()
    raise AssignmentError(str(name_or_path), None,
                          f"unknown assignment; known assignments: {', '.join(known) or 'none'}")


def load_assignment(name_or_path: str | Path, *, validate: bool = True) -> Assignment:
    """The assignment, checked against the schema; with ``validate`` (the default)
    every question's reference is also derived and checked, which needs SymPy:
    ``lstm-grader list`` skips that to answer at once."""
    path = find_assignment(name_or_path)
    name = path.parent.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise AssignmentError(name, None, f"assignment.toml is not valid TOML: {exc}") from None
    check_schema(name, path, data)
    preamble = ""
    if data.get("preamble"):
        preamble = (path.parent / data["preamble"]).read_text(encoding="utf-8")
    cells: dict[str, str] = {}
    # Resolving a cell needs the reference engine (SymPy); a listing does not.
    resolve = (lambda qid, value: _cell(name, qid, path, value, cells)) if validate else (lambda qid, value: value)
    cell = resolve(None, data.get("cell", "lstm"))
    questions = tuple(_question(name, q) for q in data.get("questions", []))
    questions = tuple(replace(q, cell=resolve(q.id, q.cell)) if q.cell else q for q in questions)
    if not questions:
        raise AssignmentError(name, None, "declares no questions")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise AssignmentError(name, None, f"question ids repeat: {ids}")
    assignment = Assignment(
        name=name, title=data.get("title", name), root=path.parent, cell=cell,
        questions=questions, notebook=data.get("notebook", ""), preamble=preamble,
        seed=int(data.get("seed", 0)), dims=tuple(sorted(data.get("dims", {}).items())),
    )
    if not validate:
        return assignment
    from .problems import validate as check_question  # late: problems needs the reference engine

    for q in assignment.auto_questions:
        _check_task_options(assignment, q, path)
        check_question(assignment, q)
    return assignment


def _freeze(value):
    """TOML arrays become tuples so that questions are hashable (and cacheable)."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _question(assignment: str, raw: dict) -> Question:
    qid = str(raw.get("id", ""))
    if not qid:
        raise AssignmentError(assignment, None, f"a question has no id: {raw}")
    kind = raw.get("kind", "expression")
    if kind not in KINDS:
        raise AssignmentError(assignment, qid, f"kind must be one of {KINDS}, not {kind!r}")
    if kind != "manual" and not raw.get("function"):
        raise AssignmentError(assignment, qid, "names no function for the student to write")
    points = float(raw.get("points", 0))
    if points <= 0:
        raise AssignmentError(assignment, qid, "must be worth a positive number of points")
    checks = []
    for entry in raw.get("checks", []):
        entry = {"check": entry} if isinstance(entry, str) else dict(entry)
        check = entry.pop("check", "")
        visibility = entry.pop("visibility", "after_published" if entry.get("hidden") else "visible")
        if visibility not in VISIBILITIES:
            raise AssignmentError(assignment, qid, f"visibility must be one of {VISIBILITIES}")
        checks.append(CheckSpec(check=check, weight=float(entry.pop("weight", 1.0)),
                                hidden=bool(entry.pop("hidden", False)), visibility=visibility,
                                options=tuple(sorted((k, _freeze(v)) for k, v in entry.items()))))
    if kind != "manual" and not checks:
        raise AssignmentError(assignment, qid, "declares no checks")
    return Question(
        id=qid, title=raw.get("title", qid), points=points, kind=kind, function=raw.get("function", ""),
        at=raw.get("at", "t"), target=raw.get("target", ""),
        params=tuple((str(k), str(v)) for k, v in raw.get("params", {}).items()),
        task=raw.get("task", ""), options=tuple(sorted((k, _freeze(v)) for k, v in raw.get("options", {}).items())),
        checks=tuple(checks), hint=raw.get("hint", ""), requires=tuple(raw.get("requires", ())),
        cell=raw.get("cell", ""),
    )


CELL_FILE_SUFFIX = ".cell"


def _cell(assignment: str, qid: str | None, path: Path, value: str, seen: dict[str, str]) -> str:
    """The registered name of the cell ``value`` names: a built-in cell ("gru"), or a
    cell file of the pack ("gru.cell", the forward equations in text), parsed and
    registered with the reference engine once per file."""
    from reference.symbolic.cells import CELLS  # late, like problems: loading alone needs no SymPy

    if value in seen:
        return seen[value]
    if not value.endswith(CELL_FILE_SUFFIX):
        if value not in CELLS:
            close = difflib.get_close_matches(value, list(CELLS), n=1, cutoff=0.6)
            mean = f"did you mean {close[0]!r}? " if close else ""
            raise AssignmentError(assignment, qid, f"unknown cell {value!r}; {mean}known cells: "
                                  f"{', '.join(sorted(CELLS))}, or a file NAME{CELL_FILE_SUFFIX} of the pack")
        seen[value] = value
        return value
    from reference.symbolic.cellfile import CellFileError, load_cell_file

    file = (path.parent / value).resolve()
    if path.parent.resolve() not in file.parents:
        raise AssignmentError(assignment, qid, f"the cell file {value!r} must be in the assignment's folder")
    try:
        seen[value] = load_cell_file(file).name
    except CellFileError as exc:
        raise AssignmentError(assignment, qid, f"in the cell file {_shown(file)}"
                              + (f", line {exc.line}" if exc.line else "") + f": {exc.message}") from None
    return seen[value]


# --- the file's shape: grader/schema/assignment.schema.json -------------------------

@lru_cache(maxsize=None)
def schema() -> dict:
    """The JSON Schema every assignment.toml must satisfy."""
    return json.loads((resources.files(__package__) / "schema" / SCHEMA).read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _validator():
    import jsonschema  # late: only loading an assignment needs it

    return jsonschema.Draft202012Validator(schema())


def check_schema(assignment: str, path: Path, data: dict) -> None:
    """Raise AssignmentError for the first problem of ``data`` in file order: an
    unknown key (with the close known one, if any), a missing key, a wrong type or value.

    A declaration found valid once is remembered (by the hash of it and of the
    schema) in the disk cache: importing jsonschema costs more than the rest of
    `lstm-grader list`."""
    from . import cache

    digest = hashlib.sha256(json.dumps([data, schema()], default=str).encode()).hexdigest()

    def validate() -> bool:
        errors = [(order, error, key) for error in _validator().iter_errors(data)
                  for order, key in _offences(data, error)]
        if errors:
            _, error, key = min(errors, key=lambda e: e[0])
            raise _schema_error(assignment, path, data, error, key)
        return True

    cache.cached(("schema-valid", digest), validate)


def _offences(data: dict, error) -> list[tuple[tuple, str | None]]:
    """(position in the file, offending key) for each thing ``error`` complains about."""
    path = list(error.absolute_path)
    base = _position(data, path)
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        keys = list(error.instance)
        return [(base + (keys.index(k),), k) for k in keys if k not in known]
    if error.validator == "required":
        # after the table's own keys: a misspelt `chek` is the better thing to report
        return [(base + (len(error.instance),), k) for k in error.validator_value if k not in error.instance][:1]
    return [(base, None)]


def _position(data, path) -> tuple[int, ...]:
    """Where ``path`` is in the file: TOML tables keep their keys in file order."""
    out, node = [], data
    for part in path:
        out.append(list(node).index(part) if isinstance(node, dict) else part)
        node = node[part]
    return tuple(out)


def _schema_error(assignment: str, path: Path, data: dict, error, key: str | None) -> AssignmentError:
    parts = list(error.absolute_path)
    question, place, rest = _where(data, parts)
    file = f"({_shown(path)})"
    subject = _subject(rest, place)
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        level = "check" if place else "question" if question else "top"
        where = f" {place}" if place else (" in the question" if question else " at the top level")
        if rest:
            where = f" in {_dotted(rest)}" + (f" {place}" if place else "")
        message = f"unknown key {key!r}{where} {file}; {_suggest(key, known, level)}known keys: {', '.join(known)}"
    elif error.validator == "required":
        where = f" {place}" if place else (" in the question" if question else " at the top level")
        message = f"missing key {key!r}{where} {file}"
    else:
        expected = _describe(error.schema)
        if not rest and place and error.validator == "type":
            expected = "a check's name or a table such as { check = \"numeric\" }"
        message = f"{subject} must be {expected}, not {_toml(error.instance)} {file}"
        if error.validator == "uniqueItems":
            message = f"{subject} repeats an entry: {_toml(error.instance)} {file}"
        elif error.validator == "enum" and isinstance(error.instance, str):
            close = difflib.get_close_matches(error.instance, [str(v) for v in error.validator_value], n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
    return AssignmentError(assignment, question, message)


LEVELS = {"top": "the top level", "question": "a question", "check": "a check"}


def _suggest(key: str, known: list[str], level: str) -> str:
    """ "did you mean 'hidden'? " for a misspelling; where the key belongs when it is
    a key of another table (`hidden` on a question belongs in one of its checks)."""
    defs = schema()["$defs"]
    tables = {"top": schema(), "question": defs["question"], "check": defs["check"]}
    for other, table in tables.items():
        if other != level and key in table["properties"]:
            return f"{key!r} is a key of {LEVELS[other]}, not of {LEVELS[level]}; "
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _where(data: dict, parts: list) -> tuple[str | None, str, list]:
    """The question the path is in (its id, or its number when it has none), the
    check it is in ("in check 3 (numeric)", counted from 1) and the rest of the path."""
    if len(parts) < 2 or parts[0] != "questions" or not isinstance(data.get("questions"), list):
        return None, "", parts
    raw = data["questions"][parts[1]]
    qid = raw.get("id") if isinstance(raw, dict) else None
    question = str(qid) if isinstance(qid, (str, int)) and not isinstance(qid, bool) and str(qid) else f"#{parts[1] + 1}"
    rest = parts[2:]
    if len(rest) >= 2 and rest[0] == "checks" and isinstance(rest[1], int):
        entry = raw["checks"][rest[1]]
        name = entry if isinstance(entry, str) else entry.get("check") if isinstance(entry, dict) else None
        place = f"in check {rest[1] + 1}" + (f" ({name})" if isinstance(name, str) and name else "")
        return question, place, rest[2:]
    return question, "", rest


def _subject(rest: list, place: str) -> str:
    """What has the wrong value: 'points', entry 2 of 'regimes', 'params.W_y', check 3."""
    if not rest:
        return place.removeprefix("in ") or "the question"
    if isinstance(rest[-1], int):
        what = f"entry {rest[-1] + 1} of {_dotted(rest[:-1])}"
    else:
        what = _dotted(rest)
    return f"{what} {place}" if place else what


def _dotted(parts: list) -> str:
    """A key as TOML spells it: 'options.outputs'."""
    return "'" + ".".join(map(str, parts)) + "'"


NOUNS = {"string": "string", "integer": "integer", "number": "number", "array": "array", "object": "table"}


def _describe(sub: dict, plural: bool = False) -> str:
    """A schema in words: "a positive number", "one of visible, hidden, ...",
    "a non-empty array of names among ordinary, saturated, ...", "a table of strings"."""
    if "$ref" in sub:  # "#/$defs/question"
        sub = schema()["$defs"][sub["$ref"].rsplit("/", 1)[1]]
    if "enum" in sub:
        values = ", ".join(map(str, sub["enum"]))
        return f"names among {values}" if plural else f"one of {values}"
    kind = sub.get("type", "")
    if kind == "boolean":
        return "true or false values" if plural else "true or false"
    qualifier = ""
    if sub.get("exclusiveMinimum") == 0 or (kind == "integer" and sub.get("minimum") == 1):
        qualifier = "positive "
    elif sub.get("minimum") == 0:
        qualifier = "non-negative "
    elif sub.get("minLength") or sub.get("minItems"):
        qualifier = "non-empty "
    words = qualifier + NOUNS.get(kind, str(kind)) + ("s" if plural else "")
    if not plural:
        words = ("an " if words[0] in "aeiou" else "a ") + words
    inner = sub.get("items") if kind == "array" else sub.get("additionalProperties") if kind == "object" else None
    if isinstance(inner, dict) and inner:
        words += " of " + _describe(inner, plural=True)
    return words


def _toml(value) -> str:
    """A value as the file spells it: true, 'two', ['ordinary', 'saturate']."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(map(_toml, value)) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _shown(path: Path) -> str:
    """The file as the person who ran the grader can open it: relative to the working
    directory when it is below it, absolute otherwise."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):  # elsewhere, or the working directory is gone
        return str(path)


def _check_task_options(assignment: Assignment, question: Question, path: Path) -> None:
    """A task question's options are its task's keyword arguments: name the one it does not take."""
    if question.kind != "task" or not question.options:
        return
    from .tasks import TASKS  # late, like problems: tasks need the reference engine

    task = TASKS.get(question.task)
    if task is None:
        return  # validate names the unknown task
    params = inspect.signature(task).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    known = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key, _ in question.options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            mean = f"did you mean {close[0]!r}? " if close else ""
            raise AssignmentError(assignment.name, question.id,
                                  f"unknown key {key!r} in options of task {question.task!r} ({_shown(path)}); "
                                  f"{mean}known keys: {', '.join(known) or 'none'}")
