"""A cell as a list of top-level statements, each compiled on its own.

Loaded by child.py from its own folder (the child runs in isolated mode and
may not import the grader package), so this module uses the standard library
only and, like child.py, binds the builtins and library functions it calls at
load time: student code shares the process, and ``Run.execute`` even runs with
the student's builtins in place. The parent imports it too, for Scanner alone:
the notebook reader finds logical lines with it in one linear pass; the parent
never compiles or splits student code, whose size is unbounded.

Running statement by statement is what Jupyter does too, and it is what makes
grading fair: one Python 2 ``print 'x'`` in starter code, or an ``import torch``
the grader does not have, costs that statement and not every definition after it.
"""
import __future__
import ast
import re
import warnings

_compile, _getattr, _isinstance, _len, _min, _max = compile, getattr, isinstance, len, min, max
_exec, _enumerate, _dict, _BaseException = exec, enumerate, dict, BaseException
_Module, _ImportFrom, _ONLY_AST = ast.Module, ast.ImportFrom, ast.PyCF_ONLY_AST
_Defines = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_increment_lineno = ast.increment_lineno
_catch_warnings, _simplefilter = warnings.catch_warnings, warnings.simplefilter
_PARSE_ERRORS = (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError)

TEXT_CHARS = 80          # how much of a statement's first line a note quotes
FIX_CHARS = 100          # longest suggested fix quoted in full

# Lines at column 0 that continue the statement above rather than start one.
_CONTINUES = re.compile(r"(?:else|elif|except|finally)\b").match
# What may follow a decorator line without starting a new statement.
_DECORATED = re.compile(r"(?:@|def\b|async\s+def\b|class\b)").match
# Keywords that can never sit inside brackets: seeing one at column 0 while a
# bracket is open means the bracket was never closed, so a statement starts here.
_RESYNC = re.compile(r"(?:def|class|import|async\s+def)\s").match
_DEFINES = re.compile(r"(?:async\s+)?(?:def|class)\s+(\w+)").match


class Item:
    """One top-level statement (or one chunk that failed to compile).

    ``code`` is None when the chunk could not be compiled; ``failure`` then
    says why, as plain data for the grader."""

    __slots__ = ("line", "end", "text", "code", "failure")

    def __init__(self, line, end, text, code=None, failure=None):
        self.line, self.end, self.text, self.code, self.failure = line, end, text, code, failure


class Run:
    """One cell's statements being run, and what went wrong with them."""

    def __init__(self, items):
        self.items = items
        self.failures = [(k, _dict(item.failure, kind="syntax"))
                         for k, item in _enumerate(items) if item.code is None]
        self.started = -1  # index of the last statement started

    def execute(self, ns, stop, describe):
        """Run each compiled statement in ``ns``, in order, as Jupyter does: a
        statement that raises costs itself, not the definitions after it.
        Exceptions of the ``stop`` types (sys.exit, the timer) end the cell.
        Runs with the student's builtins in place, hence only names bound at load."""
        for index, item in _enumerate(self.items):
            code = item.code
            if code is None:
                continue
            self.started = index
            try:
                _exec(code, ns)
            except stop:
                raise
            except _BaseException as exc:  # noqa: B036 - the student's error, noted per statement
                self.failures.append((index, describe(exc)))

    def notes(self, limit):
        """(plain-data notes in cell order, how many more were left out)."""
        self.failures.sort(key=_first)
        out = []
        for index, failure in self.failures[:limit]:
            item = self.items[index]
            out.append(_dict(failure, line=item.line, end=item.end, text=item.text,
                             rest=self.started > index))
        return out, _max(_len(self.failures) - limit, 0)


def _first(pair):
    return pair[0]


def plan(source, filename):
    """The cell's statements in order, compiled with their real line numbers."""
    lines = source.split("\n")
    with _catch_warnings():
        # SyntaxWarnings (`x is 1`, "\d") are the student's style, not a reason to skip code.
        _simplefilter("ignore")
        try:
            tree = _compile(source, filename, "exec", _ONLY_AST, dont_inherit=True)
        except _PARSE_ERRORS:
            return _plan_chunks(lines, filename)
        flags = [0]
        return [_item(stmt, lines, filename, flags) for stmt in tree.body]


def _plan_chunks(lines, filename):
    """Compile what can be compiled of a cell that does not parse as a whole."""
    items, flags = [], [0]
    for start, end in split(lines):
        text = "\n".join(lines[start - 1:end])
        try:
            tree = _compile(text, filename, "exec", _ONLY_AST | flags[0], dont_inherit=True)
        except _PARSE_ERRORS as exc:
            head = next((k for k in range(start, end + 1) if not lines[k - 1].startswith("@")),
                        start)
            items.append(_failed(exc, start, end, lines, _first_line(lines, head, end),
                                 relative=True))
            continue
        _increment_lineno(tree, start - 1)
        items.extend(_item(stmt, lines, filename, flags) for stmt in tree.body)
    return items


def _item(stmt, lines, filename, flags):
    start = _min([stmt.lineno] + [d.lineno for d in _getattr(stmt, "decorator_list", ())])
    end = stmt.end_lineno or stmt.lineno
    text = _first_line(lines, stmt.lineno, end)  # the def, not its decorator
    try:
        code = _compile(_Module([stmt], []), filename, "exec", flags[0], dont_inherit=True)
    except _PARSE_ERRORS as exc:  # e.g. `return` outside a function: the compiler, not the parser
        name = stmt.name if _isinstance(stmt, _Defines) else ""
        return _failed(exc, start, end, lines, text, name)
    if _isinstance(stmt, _ImportFrom) and stmt.module == "__future__":
        # Compiled apart, a future import would affect nothing after it.
        for alias in stmt.names:
            feature = _getattr(__future__, alias.name, None)
            flags[0] |= _getattr(feature, "compiler_flag", 0)
    return Item(start, end, text, code)


def _failed(exc, start, end, lines, text, name=None, relative=False):
    """An Item that will not run; ``relative``: the error's line number counts
    from the chunk's first line (the chunk was parsed on its own)."""
    at = _getattr(exc, "lineno", None)
    if _isinstance(at, int) and relative:
        at += start - 1
    # End-of-input errors point one line past the chunk.
    at = _min(_max(at, start), end) if _isinstance(at, int) else start
    message = _getattr(exc, "msg", None) if _isinstance(exc, SyntaxError) else str(exc)
    error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if name is None:
        head = next((line for line in lines[start - 1:end] if not line.startswith("@")), "")
        match = _DEFINES(head)
        name = match.group(1) if match else ""
    failure = {"error": error[:300], "at": at, "python2": python2_fix(lines[at - 1]) or "",
               "defines": name}
    return Item(start, end, text, None, failure)


def _first_line(lines, start, end):
    text = next((line.strip() for line in lines[start - 1:end] if line.strip()), "")
    return text if _len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 3] + "..."


# ------------------------------------------------------------ splitting ---

class Scanner:
    """Just enough of Python's tokenizer to know where logical lines start,
    and tolerant of text that is not Python (tokenize would stop at the first
    Python 2 backtick)."""

    __slots__ = ("quote", "depth", "continued")

    def __init__(self):
        self.quote = None       # the open string's delimiter
        self.depth = 0          # open brackets
        self.continued = False  # the previous line ended with a backslash

    def at_statement_start(self):
        return self.quote is None and self.depth == 0 and not self.continued

    def feed(self, line):
        i, n, in_comment = 0, _len(line), False
        while i < n:
            if self.quote is not None:
                if line.startswith(self.quote, i):
                    i, self.quote = i + _len(self.quote), None
                else:
                    i += 2 if line[i] == "\\" else 1
                continue
            c = line[i]
            if c == "#":
                in_comment = True
                break
            if c in "'\"":
                self.quote = line[i:i + 3] if line[i:i + 3] in ('"""', "'''") else c
                i += _len(self.quote)
                continue
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = _max(0, self.depth - 1)
            i += 1
        ends_with_backslash = not in_comment and line.endswith("\\")
        if self.quote in ("'", '"') and not ends_with_backslash:
            self.quote = None  # an unterminated one-line string: the parser will report it
        self.continued = self.quote is None and ends_with_backslash


def split(lines):
    """(first, last) line numbers, 1-based, of each top-level chunk.

    A chunk starts at a line at column 0 that starts a logical line, unless it
    continues a compound statement (else, elif, except, finally) or follows
    decorators. Comments and blank lines never start one, so a comment at
    column 0 inside a function body does not cut the function in two."""
    chunks, scan = [], Scanner()
    start = last = None
    decorators_only = False
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        code = bool(stripped) and not stripped.startswith("#")
        column0 = code and line[0] not in " \t\f"
        new = False
        if code and start is None:
            new = True
        elif column0 and scan.at_statement_start():
            new = not (_CONTINUES(line) or (decorators_only and _DECORATED(line)))
        elif column0 and scan.quote is None and scan.depth and _RESYNC(line):
            scan.depth, scan.continued, new = 0, False, True
        if new:
            if start is not None:
                chunks.append((start, last))
            start, decorators_only = number, line.startswith("@")
        elif column0 and decorators_only and not line.startswith("@"):
            decorators_only = False
        if code:  # blank lines and comments at its end are not part of a chunk's range
            last = number
        scan.feed(line)
    if start is not None:
        chunks.append((start, last))
    return chunks


# ------------------------------------------------------------ Python 2 ---

_STRING = re.compile(r"""('''|\"\"\"|'|")""")
_PRINT_TO = re.compile(r"print\s*>>\s*([^,]+?)\s*,\s*(.+?)(\s*,)?")
_PRINT = re.compile(r"print\s+(?![\s(=.\[])(.+?)(\s*,)?")
_EXEC_IN = re.compile(r"exec\s+(?![\s(=.\[])(.+?)\s+in\s+(.+)")
_EXEC = re.compile(r"exec\s+(?![\s(=.\[])(.+)")
_EXCEPT = re.compile(r"except\s+(.+?)\s*,\s*([A-Za-z_]\w*)\s*:(.*)")
_RAISE = re.compile(r"raise\s+([A-Za-z_][\w.]*)\s*,\s*(.+)")
_CODE_FIXES = (
    (re.compile(r"`([^`]+)`"), r"repr(\1)"),
    (re.compile(r"<>"), "!="),
    (re.compile(r"(?<![\w.])0+([1-7][0-7]*)(?![\w.])"), r"0o\1"),
    (re.compile(r"(?<![\w.])(\d+)[lL](?!\w)"), r"\1"),
)
# ur'...': only the prefix right before a string (the end of a code piece).
_UR_PREFIX = re.compile(r"(?<![\w.])[uU]([rR])$")


def python2_fix(line):
    """``line`` rewritten as Python 3, if it is Python 2 syntax; else None.

    Only a rewrite that compiles is offered, so a line that is merely broken
    is never blamed on Python 2."""
    code = _without_comment(line.strip())
    fixed = _statement_fix(_fix_pieces(code))
    if fixed == code:
        return None
    with _catch_warnings():
        _simplefilter("ignore")
        try:
            _compile(_testable(fixed), "<fix>", "exec", dont_inherit=True)
        except _PARSE_ERRORS:
            return None
    return fixed if _len(fixed) <= FIX_CHARS else None


def _statement_fix(code):
    match = _PRINT_TO.fullmatch(code)
    if match:
        target, args, comma = match.groups()
        return f"print({args}, file={target}" + (", end=' ')" if comma else ")")
    match = _PRINT.fullmatch(code)
    if match:
        args, comma = match.groups()
        return f"print({args}" + (", end=' ')" if comma else ")")
    match = _EXEC_IN.fullmatch(code) or _EXEC.fullmatch(code)
    if match:
        return f"exec({', '.join(match.groups())})"
    match = _EXCEPT.fullmatch(code)
    if match:
        kind, name, rest = match.groups()
        return f"except {kind} as {name}:{rest}"
    match = _RAISE.fullmatch(code)
    if match:
        return f"raise {match.group(1)}({match.group(2)})"
    return code


def _testable(fixed):
    """A statement that compiles on its own if the fixed line is right."""
    if fixed.startswith("except"):
        return f"try:\n    pass\n{fixed}\n    pass"
    if fixed.startswith(("elif", "else")):
        return f"if x:\n    pass\n{fixed}\n    pass"
    return f"{fixed}\n    pass" if fixed.endswith(":") else fixed


def _pieces(code):
    """(is_string, text) pieces of one line: fixes must not touch string contents."""
    out, i, n = [], 0, _len(code)
    while i < n:
        match = _STRING.search(code, i)
        if match is None:
            out.append((False, code[i:]))
            break
        out.append((False, code[i:match.start()]))
        quote, j = match.group(1), match.end()
        while j < n and not code.startswith(quote, j):
            j += 2 if code[j] == "\\" else 1
        out.append((True, code[match.start():j + _len(quote)]))
        i = j + _len(quote)
    return out


def _fix_pieces(code):
    pieces = _pieces(code)
    parts = []
    for k, (is_string, text) in enumerate(pieces):
        if not is_string:
            for pattern, replacement in _CODE_FIXES:
                text = pattern.sub(replacement, text)
            if k + 1 < _len(pieces):
                text = _UR_PREFIX.sub(r"\1", text)
        parts.append(text)
    return "".join(parts)


def _without_comment(line):
    at = 0
    for is_string, text in _pieces(line):
        if not is_string and "#" in text:
            return line[:at + text.index("#")].rstrip()
        at += _len(text)
    return line
