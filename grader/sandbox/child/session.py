"""One submission's session: its cells run statement by statement and its
functions called, each with captured output, a soft time limit, the
student's own copy of the builtins, and answers encoded as plain data.

Student code shares this process, so nothing here is a security boundary:
what it promises is that ordinary misbehaviour (monkeypatched builtins or
numpy, replaced stdout, stray signals) breaks only the student's own result,
not the protocol. Loaded by path by main.py.
"""
from builtins import (  # noqa: A004 - bound before student code can replace them
    BaseException, MemoryError, RuntimeError, SyntaxError, SystemExit, TypeError, ValueError,
    callable, compile, dict, exec, getattr, isinstance, len, list, max, min, print, repr,
    str, type,
)
import builtins
import io
import linecache
import random
import sys
import time
import types
import warnings

import numpy as np

import _sandbox_statements as statements  # registered by main.py before this module loads
from _sandbox_codec import BadReturn, Encoder, after_call, decode, sympy_kit
from _sandbox_limits import SoftTimeout, arm, disarm

MAX_NOTES = 20   # failed statements reported per cell; the rest are only counted
_np_seed = np.random.seed
_errstate = np.errstate
_catch_warnings, _simplefilter = warnings.catch_warnings, warnings.simplefilter
_seed = random.seed
_settrace, _setprofile = sys.settrace, sys.setprofile
_getrecursionlimit, _setrecursionlimit = sys.getrecursionlimit, sys.setrecursionlimit
_builtins = builtins.__dict__
_BUILTINS = dict(_builtins)
_str_add = str.__add__
_monotonic = time.monotonic


class Capture(io.TextIOBase):
    """sys.stdout and sys.stderr for one cell or call: keeps the first ``cap``
    characters, counts the rest."""

    def __init__(self, cap):
        self.cap, self.parts, self.kept, self.dropped = cap, [], 0, 0

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        s = _str_add("", s)
        n = len(s)
        room = max(self.cap - self.kept, 0)
        if room:
            piece = s[:room]
            self.parts.append(piece)
            self.kept += len(piece)
        self.dropped += n - min(n, room)
        return n

    def writable(self):
        return True

    def text(self):
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... {self.dropped} more characters of output not shown]"
        return text


def _no_input(*_args, **_kwargs):
    raise RuntimeError("input() is not available while grading")


def _display(*objects, **_kwargs):
    for obj in objects:
        print(repr(obj))


def _where(tb):
    found = ""
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith("<cell ") and name.endswith(">"):
            found = f"cell {name[6:-1]}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _exception_text(exc):
    try:
        text = str(exc).strip()
    except BaseException:
        text = "(the exception's message could not be shown)"
    if len(text) > 500:
        text = text[:500] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(exc, verb="raised"):
    message = f"{verb} {_exception_text(exc)}"
    where = _where(exc.__traceback__)
    return f"{message} ({where})" if where else message


class Session:
    def __init__(self, cfg):
        self.cfg = cfg
        module = types.ModuleType("__main__")
        module.__dict__["display"] = _display
        sys.modules["__main__"] = module  # `import __main__` finds the notebook, as in Jupyter
        self.ns = module.__dict__
        self.before_cells = dict(self.ns)
        self.symbols = {}
        # Student code sees (and may change) its own copy of the builtins; the
        # protocol code and the libraries it calls (json, inspect, sympy) run
        # with the original ones.
        self.student_builtins = dict(_BUILTINS, input=_no_input)

    def kit(self):
        return sympy_kit()

    def symbol(self, name):
        if name not in self.symbols:
            self.symbols[name] = self.kit().Symbol(name, real=True)
        return self.symbols[name]

    def guarded(self, thunk, timeout, then=None):
        """Run student code with captured output and a soft timeout, then
        ``then(value)`` (the encoder) under the same timer but with the
        builtins this script started with. Returns (status, message, value, output)."""
        cap = Capture(self.cfg["output_bytes"])
        sys.stdout = sys.stderr = cap
        _builtins.clear()
        _builtins.update(self.student_builtins)
        status, message, value = "ok", "", None
        try:
            try:
                arm(timeout)
                try:
                    value = thunk()
                finally:
                    self.student_builtins = dict(_builtins)
                    _builtins.clear()
                    _builtins.update(_BUILTINS)
                    _settrace(None)  # a student's tracer must not run over protocol code
                    _setprofile(None)
                    if _getrecursionlimit() < 1000:  # the encoder and json need some stack
                        _setrecursionlimit(1000)
                if then is not None:
                    value = then(value)
            finally:
                disarm()
        except SoftTimeout as exc:
            status, message = "timeout", _where(exc.__traceback__)
        except BadReturn as exc:
            where = "".join(exc.path)
            status, message = "bad-return", f"returned a value that {exc}" if not where else (
                f"returned a value whose part {where} {exc}")
        except MemoryError as exc:
            limit = self.cfg["memory_bytes"] / 2**20
            where = _where(exc.__traceback__)
            status = "memory"
            message = f"ran out of memory (the limit is {limit:.0f} MB)" + (
                f" ({where})" if where else "")
        except SystemExit as exc:
            code = "" if exc.code is None else repr(exc.code)[:80]
            where = _where(exc.__traceback__)
            status = "exit"
            message = f"called sys.exit({code})" + (f" ({where})" if where else "")
        except BaseException as exc:  # noqa: B036 - anything the student raises is their error
            status, message = "error", _describe(exc)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if len(message) > 2000:
            message = message[:1997] + "..."
        return status, message, value, cap.text()

    def timed(self, work, timeout):
        """Protocol work on student data (parsing a cell) under the cell's
        timer, with the builtins this script started with."""
        try:
            arm(timeout)
            try:
                return "ok", "", work()
            finally:
                disarm()
        except SoftTimeout:
            return "timeout", "", None
        except MemoryError:
            limit = self.cfg["memory_bytes"] / 2**20
            return "error", (f"ran out of memory reading the cell (the limit is {limit:.0f} MB); "
                             "the cell did not run"), None

    def run(self, req):
        kind, number = req["kind"], req.get("cell")
        filename = f"<cell {number}>" if kind == "cell" else "<grader preamble>"
        source = req["source"]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        if kind == "preamble":
            return self.preamble(source, filename, req["timeout"])
        start = _monotonic()
        status, message, items = self.timed(lambda: statements.plan(source, filename),
                                            req["timeout"])
        if status != "ok":
            return {"status": status, "message": message, "output": "", "notes": []}
        run = statements.Run(items)
        status, message, _, output = self.guarded(
            lambda: run.execute(self.ns, (SoftTimeout, SystemExit), self.statement_error),
            req["timeout"] - (_monotonic() - start))
        if status == "exit":
            status, message = "error", message + "; the rest of the cell was skipped"
        notes, more = run.notes(MAX_NOTES)
        return {"status": status, "message": message, "output": output, "notes": notes,
                "more": more}

    def statement_error(self, exc):
        """What the grader is told about a top-level statement that raised."""
        if isinstance(exc, MemoryError):
            limit = self.cfg["memory_bytes"] / 2**20
            text = f"ran out of memory (the limit is {limit:.0f} MB)"
        else:
            text = _exception_text(exc)
        return {"kind": "error", "error": text, "where": _where(exc.__traceback__)}

    def preamble(self, source, filename, timeout):
        """The grader's own code: one unit, and any failure is fatal to grading."""
        try:
            code = compile(source, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            text = getattr(exc, "msg", None) or str(exc)
            return {"status": "error", "output": "", "message": f"{type(exc).__name__}: {text}"}
        status, message, _, output = self.guarded(lambda: exec(code, self.ns), timeout)
        self.before_cells = dict(self.ns)
        return {"status": status, "message": message, "output": output}

    def functions(self, req):
        import inspect

        def collect():
            found = []
            for name, obj in list(self.ns.items()):
                if name.startswith("__") or self.before_cells.get(name, self) is obj:
                    continue
                if isinstance(obj, types.FunctionType):
                    if not obj.__code__.co_filename.startswith("<cell "):
                        continue
                elif not (isinstance(obj, type) and obj.__module__ == "__main__"):
                    continue
                try:
                    params = [("*" if p.kind == p.VAR_POSITIONAL else "**"
                               if p.kind == p.VAR_KEYWORD else "") + p.name
                              for p in inspect.signature(obj).parameters.values()]
                except BaseException:
                    params = []
                found.append([_str_add("", name), [_str_add("", p) for p in params]])
            return found

        status, message, value, _ = self.guarded(collect, req["timeout"])
        return {"status": status, "message": message, "functions": value or []}

    def calls(self, req):
        name = req["function"]
        fn = self.ns.get(name, self)
        for index, (args, kwargs) in enumerate(req["calls"]):
            base = {"index": index, "value": None, "output": ""}
            if fn is self:
                yield dict(base, status="error",
                           message=f"{name} is not defined in your notebook (check its name "
                           "and that the cell defining it runs without errors)")
                continue
            if not callable(fn):
                yield dict(base, status="error", message=f"{name} is defined in your notebook "
                           f"but is a {type(fn).__name__}, not a function")
                continue
            args, kwargs = decode(args, self.symbol), decode(kwargs, self.symbol)
            _seed(self.cfg["seed"])
            _np_seed(self.cfg["seed"])
            encoder = Encoder(self.cfg, self.kit)
            passed = tuple(args)  # the objects handed over, whatever the student rebinds
            with _catch_warnings(record=True) as caught, \
                    _errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
                _simplefilter("always")
                status, message, value, output = self.guarded(
                    lambda: fn(*args, **kwargs), req["timeouts"][index], encoder.encode)
            base["warnings"] = _warning_texts(caught)
            base["after"] = after_call(passed)
            if status == "exit":
                status, message = "error", message + " instead of returning a value"
            yield dict(base, status=status, message=message, output=output,
                       value=value if status == "ok" else None)


def _warning_texts(caught, limit=5):
    texts = []
    for w in caught:
        text = _str_add(f"{getattr(w.category, '__name__', 'Warning')}: ", str(w.message))[:300]
        if text not in texts:
            texts.append(text)
    return texts[:limit]
