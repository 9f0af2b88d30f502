"""Child side of the grading sandbox:  python -I child.py READ_FD WRITE_FD

Runs one submission's cells and calls for the grader (runner.py) and speaks
only plain data back over two pipes. It is self-contained on purpose: isolated
mode gives it no access to the grader package, and anything it imported from
there would be one more thing student code could reach. Its one helper,
statements.py (standard library only), is loaded by path from this script's
own folder, where process.py stages it next to every copy of this script.

Student code shares this process, so nothing here is a security boundary on
its own: the parent's wall-clock kill is the guarantee for time, rlimits for
memory, and the audit hook below is defence in depth for files and processes.
What this script does promise is that ordinary misbehaviour (monkeypatched
builtins or numpy, replaced stdout, stray signals) breaks only the student's
own result, not the protocol.
"""
# Bound as module globals so that student code replacing builtins.len,
# builtins.isinstance, ... cannot change what the protocol code does.
from builtins import (  # noqa: A004
    BaseException, Exception, MemoryError, OSError, PermissionError,
    SyntaxError, SystemExit, ValueError, any, bool, callable, compile, complex,
    dict, enumerate, exec, float, getattr, int, isinstance, len, list, max, min,
    reversed, str, tuple, type,
)
import base64
import builtins
import io
import json
import linecache
import math
import os
import posix
import random
import resource
import signal
import stat
import struct
import sys
import time
import types
import warnings

import numpy as np


def _load_sibling(name):
    """A module from this script's folder, loaded by path: sys.path holds
    neither that folder (isolated mode) nor, after lock_down, the grader."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".py")
    module = types.ModuleType("_sandbox_" + name)
    module.__file__ = path
    with open(path, encoding="utf-8") as fh:
        exec(compile(fh.read(), path, "exec", dont_inherit=True), module.__dict__)
    return module


_statements = _load_sibling("statements")
_confine = _load_sibling("confine")

HEADER = struct.Struct(">I")
_read, _write = os.read, os.write
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_loads = json.loads
_ndarray, _generic = np.ndarray, np.generic
_np_bool, _np_int, _np_float, _np_complex = np.bool_, np.integer, np.floating, np.complexfloating
_frombuffer, _np_seed, _np_dtype = np.frombuffer, np.random.seed, np.dtype
# Student code shares these modules: what the protocol calls is bound now.
_errstate, _array_equal, _np_array = np.errstate, np.array_equal, np.array
_catch_warnings, _simplefilter = warnings.catch_warnings, warnings.simplefilter
_b64encode, _b64decode, _seed = base64.b64encode, base64.b64decode, random.seed
_settrace, _setprofile = sys.settrace, sys.setprofile
_getrecursionlimit, _setrecursionlimit = sys.getrecursionlimit, sys.setrecursionlimit
_builtins = builtins.__dict__
_BUILTINS = dict(_builtins)
_setitimer, _set_handler, _ITIMER_REAL, _SIGALRM = (
    signal.setitimer, signal.signal, signal.ITIMER_REAL, signal.SIGALRM)
_str_add, _bytes_decode = str.__add__, bytes.decode
_monotonic = time.monotonic
_INT_BITS = 3330  # about 1000 decimal digits; exprtree.MAX_INT_DIGITS on the parent side
MAX_NOTES = 20   # failed statements reported per cell; the rest are only counted


class _SoftTimeout(BaseException):
    """Raised by SIGALRM inside student code; BaseException so that a student's
    ``except Exception`` does not swallow it."""


class _BadReturn(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.path = []


# ---------------------------------------------------------------- framing ---

class Channel:
    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd

    def _exact(self, n):
        chunks, got = [], 0
        while got < n:
            chunk = _read(self.rfd, min(n - got, 1 << 20))
            if not chunk:
                os._exit(0)  # the grader went away: nothing left to do
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def recv(self):
        (n,) = HEADER.unpack(self._exact(4))
        return _loads(self._exact(n).decode("ascii"))

    def send(self, payload, text=None):
        body = (text or _ENCODER.encode(payload)).encode("ascii")
        data = memoryview(HEADER.pack(len(body)) + body)
        while data:
            data = data[_write(self.wfd, data):]


# ---------------------------------------------------------- plain values ---

def _short(x, limit=60):
    """repr for messages: student objects can have enormous reprs."""
    text = repr(x)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _float(x):
    if math.isfinite(x):
        return x
    return {"f": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def decode(obj, symbol):
    """Arguments from the grader (trusted, same format as wire.decode)."""
    if type(obj) is list:
        return [decode(v, symbol) for v in obj]
    if type(obj) is not dict:
        return obj
    (tag, body), = obj.items()
    if tag == "f":
        return float(body)
    if tag == "t":
        return tuple(decode(v, symbol) for v in body)
    if tag == "d":
        return {k: decode(v, symbol) for k, v in body.items()}
    if tag == "c":
        return complex(decode(body[0], symbol), decode(body[1], symbol))
    if tag == "a":
        dtype, shape, data = body
        return _frombuffer(_b64decode(data), dtype=_np_dtype(dtype)).reshape(shape).copy()
    if tag == "s":
        return symbol(body)
    raise ValueError(f"unknown tag {tag!r}")


class Encoder:
    """Student return values to tagged data, refusing early (before copying
    anything big) what the parent would refuse anyway."""

    def __init__(self, cfg, kit):
        self.budget = cfg["value_bytes"]
        self.nesting = cfg["nesting"]
        self.nodes, self.depth = cfg["expr_nodes"], cfg["expr_depth"]
        self.kit = kit

    def spend(self, n):
        self.budget -= n
        if self.budget < 0:
            raise _BadReturn("is too large to grade; return only what the question asks for")

    def encode(self, v, depth=0):
        if depth > self.nesting:
            raise _BadReturn(f"is nested more than {self.nesting} levels deep")
        self.spend(16)
        t = type(v)
        if v is None or t is bool:
            return v
        if t is int:
            if v.bit_length() > _INT_BITS:
                raise _BadReturn("is an integer with more than 1000 digits")
            return v
        if t is float:
            return _float(v)
        if t is str:
            self.spend(len(v))
            return v
        if t is complex:
            return {"c": [_float(v.real), _float(v.imag)]}
        if isinstance(v, _ndarray):
            return self.array(v, depth)
        if isinstance(v, _generic):
            for kind, conv in ((_np_bool, bool), (_np_int, int), (_np_float, float),
                               (_np_complex, complex)):
                if isinstance(v, kind):
                    return self.encode(conv(v), depth)
            if isinstance(v, str):
                return self.encode(_str_add("", v), depth)
        if isinstance(v, (list, tuple)):
            items = [self.item(x, f"[{i}]", depth) for i, x in enumerate(v)]
            return items if isinstance(v, list) else {"t": items}
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if not isinstance(k, str):
                    raise _BadReturn(f"is a dict with a key {_short(k)} that is not a string")
                out[_str_add("", k)] = self.item(x, f"[{_short(k)}]", depth)
            return {"d": out}
        for base in (int, float, str):
            if isinstance(v, base):
                return self.encode(base(v), depth)
        sp = sys.modules.get("sympy")
        if sp is not None:
            kit = self.kit()
            if isinstance(v, kit.MatrixBase):
                raise _BadReturn("is a SymPy Matrix, which the grader cannot check; return "
                                 "matrix.tolist() or a list of expressions instead")
            if isinstance(v, kit.Basic):
                return {"x": self.tree(v)}
        raise _BadReturn(f"is a {t.__name__}, which the grader cannot read; return numbers, "
                         "lists, tuples, dicts, numpy arrays or SymPy expressions")

    def item(self, x, where, depth):
        try:
            return self.encode(x, depth + 1)
        except _BadReturn as exc:
            exc.path.insert(0, where)
            raise

    def array(self, v, depth):
        kind = v.dtype.kind
        if kind in "OU":
            return self.encode(v.tolist(), depth)
        if kind not in "biufc":
            raise _BadReturn(f"is a numpy array of dtype {v.dtype}, which the grader cannot read")
        self.spend(v.nbytes * 4 // 3 + 64)
        if kind == "f" and v.dtype.itemsize > 8:
            v = v.astype(float)
        elif kind == "c" and v.dtype.itemsize > 16:
            v = v.astype(complex)
        if not v.dtype.isnative:
            v = v.astype(v.dtype.newbyteorder("="))
        return {"a": [v.dtype.str, list(v.shape), _b64encode(v.tobytes()).decode("ascii")]}

    def tree(self, expr):
        k = self.kit()
        stack, count = [expr], 0
        while stack:  # size check first: rewriting a huge DAG would take forever
            count += 1
            if count > self.nodes:
                raise _BadReturn(f"is a SymPy expression with more than {self.nodes} nodes")
            stack.extend(stack.pop().args)
        if expr.has(*k.via_exp):
            expr = expr.replace(lambda e: isinstance(e, k.via_exp), lambda e: e.rewrite(k.exp))
        if expr.has(*k.via_log):
            expr = expr.replace(lambda e: isinstance(e, k.via_log), lambda e: e.rewrite(k.log))
        out, stack, count = [], [(expr, 1, None)], 0
        while stack:
            e, depth, tag = stack.pop()
            if tag is not None:
                n = len(e.args)
                kids = out[len(out) - n:]
                del out[len(out) - n:]
                out.append([tag] + kids)
                continue
            count += 1
            if count > self.nodes or depth > self.depth:
                raise _BadReturn(f"is a SymPy expression too large to grade (over {self.nodes} "
                                 f"nodes or {self.depth} levels)")
            self.spend(24)
            out_leaf = self.leaf(e, k)
            if out_leaf is not None:
                out.append(out_leaf)
                continue
            tag = self.tag(e, k)
            stack.append((e, depth, tag))
            stack.extend((a, depth + 1, None) for a in reversed(e.args))
        return out[0]

    def leaf(self, e, k):
        if isinstance(e, k.Symbol):
            if not 0 < len(e.name) <= 200:
                raise _BadReturn(f"uses a symbol with an unusable name {e.name!r}")
            return ["Symbol", _str_add("", e.name)]
        if isinstance(e, k.Integer):
            if int(e).bit_length() > _INT_BITS:
                raise _BadReturn("contains an integer with more than 1000 digits")
            return ["Integer", int(e)]
        if isinstance(e, k.Rational):
            if max(int(e.p).bit_length(), int(e.q).bit_length()) > _INT_BITS:
                raise _BadReturn("contains a fraction with more than 1000 digits")
            return ["Rational", int(e.p), int(e.q)]
        if isinstance(e, k.Float):
            x = float(e)
            if not math.isfinite(x):
                raise _BadReturn(f"contains the number {e}, which does not fit in a float")
            return ["Float", x]
        if e is k.E:
            return ["E"]
        return None

    def tag(self, e, k):
        for cls, name, arity in k.nodes:
            if isinstance(e, cls):
                if (arity == 1 and len(e.args) != 1) or (arity == 2 and len(e.args) < 2):
                    break
                return name
        if isinstance(e, k.Function) and type(e).__name__ == "sigmoid" and len(e.args) == 1:
            return "sigmoid"
        name = type(e).__name__
        what = k.names.get(name)
        if what is None and isinstance(e, k.Function):
            what = f"the function {name}"
        raise _BadReturn(f"is a SymPy expression containing {what or name}, which the grader "
                         "cannot check; use only + - * / **, exp, log, tanh and sigmoid")


def _sympy_kit():
    import sympy as sp

    return types.SimpleNamespace(
        Basic=sp.Basic, MatrixBase=sp.MatrixBase, Symbol=sp.Symbol, Integer=sp.Integer,
        Rational=sp.Rational, Float=sp.Float, E=sp.E, Function=sp.Function,
        exp=sp.exp, log=sp.log,
        nodes=((sp.Add, "Add", 2), (sp.Mul, "Mul", 2), (sp.Pow, "Pow", 2),
               (sp.exp, "exp", 1), (sp.log, "log", 1), (sp.tanh, "tanh", 1)),
        via_exp=(sp.sinh, sp.cosh, sp.sech, sp.csch, sp.coth),
        via_log=(sp.asinh, sp.acosh, sp.atanh, sp.acoth, sp.asech, sp.acsch),
        names={"ComplexInfinity": "zoo (an undefined value, e.g. from dividing by zero)",
               "Infinity": "oo (infinity)", "NegativeInfinity": "-oo (minus infinity)",
               "NaN": "nan (an undefined value)", "ImaginaryUnit": "I (the imaginary unit)",
               "Pi": "pi", "Derivative": "an unevaluated Derivative (write the derivative "
               "out, or call .doit())", "Subs": "an unevaluated Subs (call .doit())"},
    )


# ------------------------------------------------------------ the guard ---

def install_guard(protected, workdir, proto_fds, blocked):
    """Audit hook: deny file access under ``protected``, writes outside
    ``workdir``, new processes, signals to others, sockets and ctypes.

    Every helper it uses is bound in this closure, so student code cannot
    monkeypatch its way around it through os.path or builtins.
    """
    lstat, stat_, readlink, getcwd = posix.lstat, posix.stat, posix.readlink, posix.getcwd
    islnk, isdir = stat.S_ISLNK, stat.S_ISDIR
    _isinstance, _int, _str, _bytes, _len, _any = isinstance, int, str, bytes, len, any
    int_add, str_add, bytes_decode = int.__add__, str.__add__, bytes.decode
    _OSError, _Denied = OSError, PermissionError
    protected, proto_fds, blocked = tuple(protected), frozenset(proto_fds), frozenset(blocked)
    my_proc = "/proc/%d" % posix.getpid()
    my_pid = posix.getpid()
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    spawn = frozenset(("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                       "os.forkpty", "subprocess.Popen", "os.killpg", "os.link", "os.symlink",
                       "os.chdir", "os.fchdir", "sys.addaudithook", "resource.setrlimit",
                       "resource.prlimit", "gc.get_objects", "gc.get_referrers",
                       "gc.get_referents", "sqlite3.connect", "os.startfile"))
    listing = frozenset(("os.listdir", "os.scandir", "os.listxattr"))
    changing = frozenset(("os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.truncate",
                          "os.chmod", "os.chown", "os.utime", "os.setxattr", "os.removexattr",
                          "os.chflags", "os.lchflags", "shutil.rmtree"))
    dir_fd_at = {"os.remove": (1,), "os.rmdir": (1,), "os.mkdir": (2,), "os.rename": (2, 3),
                 "os.chmod": (2,), "os.chown": (3,), "os.utime": (3,)}
    what = {"os.fork": "starting processes", "os.forkpty": "starting processes",
            "subprocess.Popen": "starting processes", "os.system": "running commands",
            "os.exec": "running programs", "os.posix_spawn": "starting processes",
            "os.spawn": "starting processes", "os.chdir": "changing directory",
            "os.fchdir": "changing directory", "os.link": "creating links",
            "os.symlink": "creating links"}

    def under(path, roots):
        for root in roots:
            if path == root or path.startswith(root + "/") or root == "/":
                return True
        return False

    def resolve(path):
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        done, todo, links = "", path.split("/")[::-1], 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                done = done[:done.rfind("/")] if done else ""
                continue
            candidate = done + "/" + part
            try:
                mode = lstat(candidate).st_mode
            except _OSError:
                done = candidate
                continue
            if islnk(mode):
                links += 1
                if links > 40:
                    raise _Denied(f"too many symbolic links in {path}")
                target = readlink(candidate)
                if target.startswith("/"):
                    done = ""
                todo.extend(target.split("/")[::-1])
            else:
                done = candidate
        return done or "/"

    def real(path):
        """Resolved text path, or None for things that are not paths."""
        if path is None:
            return resolve(".")
        if _isinstance(path, _int) and not _isinstance(path, bool):
            fd = int_add(0, path)
            if fd in proto_fds:
                raise _Denied("the grader's own channel is not available to your code")
            try:
                target = readlink("/proc/self/fd/%d" % fd)
            except _OSError:
                return None
            return resolve(target) if target.startswith("/") else None
        if _isinstance(path, _str):
            return resolve(str_add("", path))
        if _isinstance(path, _bytes):
            return resolve(bytes_decode(path, "utf-8", "surrogateescape"))
        return None

    def check_read(path, verb):
        if under(path, protected):
            raise _Denied(f"{verb} {path} is not allowed while grading")
        if path.startswith("/proc/") and not under(path, (my_proc,)):
            rest = path[6:].split("/")[0]
            if rest.isdigit() or rest.startswith(("self", "thread-self")):
                raise _Denied(f"{verb} {path} is not allowed while grading")
        if path.startswith("/proc/") and path.endswith("/mem"):
            raise _Denied(f"{verb} {path} is not allowed while grading")

    def hook(event, args):
        if event == "open":
            path = real(args[0])
            if path is None:
                return
            check_read(path, "reading")
            mode, flags = args[1] if _len(args) > 1 else None, args[2] if _len(args) > 2 else 0
            writing = (_isinstance(flags, _int) and flags & writes) or (
                _isinstance(mode, _str) and _any(c in mode for c in "wax+"))
            if writing and path != "/dev/null" and not under(path, (workdir,)):
                raise _Denied(f"writing to {path} is not allowed while grading; only the "
                              "current directory is writable")
            try:
                is_dir = isdir(stat_(path).st_mode)
            except _OSError:
                is_dir = False
            if is_dir and not under(path, (workdir,)):
                raise _Denied(f"opening the directory {path} is not allowed while grading")
        elif event in listing:
            path = real(args[0])
            if path is not None:
                check_read(path, "listing")
        elif event in changing:
            paths = args[:2] if event == "os.rename" else args[:1]
            dir_fds = [args[i] for i in dir_fd_at.get(event, ()) if i < _len(args)
                       and _isinstance(args[i], _int) and args[i] >= 0]
            if dir_fds:
                # shutil.rmtree removes entries by name relative to a directory
                # descriptor; allow exactly that, inside the working directory.
                name, base = args[0], real(dir_fds[0])
                simple = _isinstance(name, _str) and "/" not in name and name not in ("..", ".")
                if (base is None or not simple or not under(base, (workdir,))
                        or event not in ("os.remove", "os.rmdir", "os.mkdir")):
                    raise _Denied(f"changing {name!r} is not allowed while grading")
                return
            for arg in paths:
                path = real(arg)
                if path is None or not under(path, (workdir,)):
                    raise _Denied(f"changing {arg!r} is not allowed while grading; only the "
                                  "current directory is writable")
        elif event == "import":
            top = args[0].split(".")[0]
            if top in blocked:
                raise _Denied(f"importing {top} is not allowed while grading")
        elif event == "os.kill":
            if args[0] != my_pid:
                raise _Denied("sending signals to other processes is not allowed while grading")
        elif event in spawn:
            doing = what.get(event, f"{event}()")
            raise _Denied(f"{doing} is not allowed while grading")
        elif event.startswith(("socket.", "ctypes.")):
            raise _Denied(f"{event.split('.')[0]} is not available while grading")

    sys.addaudithook(hook)


def _denied(*_args, **_kwargs):
    raise PermissionError("threads and processes are not available while grading")


def lock_down(cfg):
    """Limits, determinism and the audit hook, before any student code runs."""
    mem = cfg["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(cfg["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_FSIZE, (cfg["file_bytes"], cfg["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # not enforced for root; the hook is
    sys.dont_write_bytecode = True
    os.environ.pop("PWD", None)  # set by bwrap's --chdir; the parent's env is the whole env
    try:  # out of memory, the kernel must kill student code first, not the grader
        with open("/proc/self/oom_score_adj", "w") as fh:
            fh.write("1000")
    except OSError:
        pass
    protected = cfg["protected"]
    sys.path[:] = [p for p in sys.path
                   if not any(p == r or p.startswith(r + "/") for r in protected)]
    # setuptools' editable installs map the grader's own packages into any
    # interpreter of this venv; importlib.import_module would bypass the
    # "import" audit event, so the finders themselves must go.
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable__")]
    sys.path_hooks[:] = [h for h in sys.path_hooks
                         if not getattr(h, "__module__", "").startswith("__editable__")]
    sys.path_importer_cache.clear()
    import _posixsubprocess
    import _thread
    import threading
    _posixsubprocess.fork_exec = _denied
    for module in (_thread, threading):
        for name in ("start_new_thread", "start_new", "_start_new_thread",
                     "start_joinable_thread", "_start_joinable_thread"):
            if hasattr(module, name):
                setattr(module, name, _denied)
    for module, name in ((os, "pidfd_open"), (posix, "pidfd_open"),
                         (signal, "pidfd_send_signal")):
        if hasattr(module, name):
            delattr(module, name)
    # The kernel's walls last, once nothing of start-up needs what they deny.
    if cfg.get("seccomp"):
        _confine.apply_seccomp(posix.getpid())
    if cfg.get("landlock"):
        read, write = cfg["landlock"]
        _confine.apply_landlock(read + ["/proc/%d" % posix.getpid()], write)
    install_guard(protected, cfg["workdir"], cfg["fds"],
                  list(cfg["blocked"]) + ["_posixsubprocess", "_thread", "_signal", "posix"])


# --------------------------------------------------------------- running ---

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


def _on_alarm(_signum, _frame):
    raise _SoftTimeout()


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
        self.kit_cache = None
        self.symbols = {}
        # Student code sees (and may change) its own copy of the builtins; the
        # protocol code and the libraries it calls (json, inspect, sympy) run
        # with the original ones.
        self.student_builtins = dict(_BUILTINS, input=_no_input)

    def kit(self):
        if self.kit_cache is None:
            self.kit_cache = _sympy_kit()
        return self.kit_cache

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
        _set_handler(_SIGALRM, _on_alarm)
        status, message, value = "ok", "", None
        try:
            try:
                _setitimer(_ITIMER_REAL, max(timeout, 0.001))
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
                _setitimer(_ITIMER_REAL, 0)
        except _SoftTimeout as exc:
            status, message = "timeout", _where(exc.__traceback__)
        except _BadReturn as exc:
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
        _set_handler(_SIGALRM, _on_alarm)
        try:
            _setitimer(_ITIMER_REAL, max(timeout, 0.001))
            try:
                return "ok", "", work()
            finally:
                _setitimer(_ITIMER_REAL, 0)
        except _SoftTimeout:
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
        status, message, items = self.timed(lambda: _statements.plan(source, filename),
                                            req["timeout"])
        if status != "ok":
            return {"status": status, "message": message, "output": "", "notes": []}
        run = _statements.Run(items)
        status, message, _, output = self.guarded(
            lambda: run.execute(self.ns, (_SoftTimeout, SystemExit), self.statement_error),
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
            before = _array_snapshot(args)
            with _catch_warnings(record=True) as caught, \
                    _errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
                _simplefilter("always")
                status, message, value, output = self.guarded(
                    lambda: fn(*args, **kwargs), req["timeouts"][index], encoder.encode)
            base["warnings"] = _warning_texts(caught)
            base["mutated"] = _mutated(args, before)
            if status == "exit":
                status, message = "error", message + " instead of returning a value"
            yield dict(base, status=status, message=message, output=output,
                       value=value if status == "ok" else None)


def _array_snapshot(args):
    return [_np_array(a, copy=True) if type(a) is _ndarray else None for a in args]


def _mutated(args, before):
    """Positions of array arguments the student changed in place: a backward pass
    that scribbles on its cache or inputs is a bug worth naming."""
    out = []
    for k, (a, b) in enumerate(zip(args, before)):
        if b is not None and (a.shape != b.shape or not _array_equal(a, b, equal_nan=True)):
            out.append(k)
    return out


def _warning_texts(caught, limit=5):
    texts = []
    for w in caught:
        text = _str_add(f"{getattr(w.category, '__name__', 'Warning')}: ", str(w.message))[:300]
        if text not in texts:
            texts.append(text)
    return texts[:limit]


def main():
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    sys.argv = [""]  # as in a notebook kernel, and one less pointer to the channel
    channel = Channel(rfd, wfd)
    cfg = channel.recv()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    lock_down(cfg)
    _seed(cfg["seed"])
    _np_seed(cfg["seed"])
    session = Session(cfg)
    channel.send({"hello": os.getpid()})
    while True:
        req = channel.recv()
        op, rid = req["op"], req["id"]
        try:
            if op == "run":
                channel.send(dict(session.run(req), id=rid))
            elif op == "functions":
                channel.send(dict(session.functions(req), id=rid))
            elif op == "call":
                for reply in session.calls(req):
                    reply["id"] = rid
                    text = _ENCODER.encode(reply)
                    if len(text) > cfg["frame_bytes"] - 16:  # the encoder's budget is an estimate
                        text = _ENCODER.encode(dict(
                            reply, status="bad-return", value=None, output="",
                            message="returned a value too large to grade"))
                    channel.send(None, text)
            else:
                return
        except BaseException as exc:  # noqa: B036 - sabotage or a bug: say so, keep serving
            channel.send({"id": rid, "status": "crash", "message": _describe(exc, "failed with"),
                          "fatal": True})


if __name__ == "__main__":
    main()
