"""Plain tagged data in both directions: the grader's arguments decoded, the
student's return values encoded (refusing early, before copying anything big,
what the grader would refuse anyway), and array arguments as they are after a
call, so that the grader can compare them with what it sent.

The format is wire.py's; tests check the two agree byte for byte. Loaded by
path by main.py.
"""
from builtins import (  # noqa: A004 - bound before student code can replace them
    Exception, ValueError, complex, dict, enumerate, float, int, isinstance, len, list, max,
    reversed, str, tuple, type,
)
import base64
import math
import sys
import types

import numpy as np

_ndarray, _generic = np.ndarray, np.generic
_np_bool, _np_int, _np_float, _np_complex = np.bool_, np.integer, np.floating, np.complexfloating
_frombuffer, _np_dtype = np.frombuffer, np.dtype
_b64encode, _b64decode = base64.b64encode, base64.b64decode
_str_add = str.__add__
INT_BITS = 3330  # about 1000 decimal digits; exprtree.MAX_INT_DIGITS on the parent side
_INT_BITS = INT_BITS
_KIT = []


class BadReturn(Exception):
    """A return value the grader cannot take; ``path`` says where in it."""

    def __init__(self, message):
        super().__init__(message)
        self.path = []


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
            raise BadReturn("is too large to grade; return only what the question asks for")

    def encode(self, v, depth=0):
        if depth > self.nesting:
            raise BadReturn(f"is nested more than {self.nesting} levels deep")
        self.spend(16)
        t = type(v)
        if v is None or t is bool:
            return v
        if t is int:
            if v.bit_length() > _INT_BITS:
                raise BadReturn("is an integer with more than 1000 digits")
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
                    raise BadReturn(f"is a dict with a key {_short(k)} that is not a string")
                out[_str_add("", k)] = self.item(x, f"[{_short(k)}]", depth)
            return {"d": out}
        for base in (int, float, str):
            if isinstance(v, base):
                return self.encode(base(v), depth)
        sp = sys.modules.get("sympy")
        if sp is not None:
            kit = self.kit()
            if isinstance(v, kit.MatrixBase):
                raise BadReturn("is a SymPy Matrix, which the grader cannot check; return "
                                 "matrix.tolist() or a list of expressions instead")
            if isinstance(v, kit.Basic):
                return {"x": self.tree(v)}
        raise BadReturn(f"is a {t.__name__}, which the grader cannot read; return numbers, "
                         "lists, tuples, dicts, numpy arrays or SymPy expressions")

    def item(self, x, where, depth):
        try:
            return self.encode(x, depth + 1)
        except BadReturn as exc:
            exc.path.insert(0, where)
            raise

    def array(self, v, depth):
        kind = v.dtype.kind
        if kind in "OU":
            return self.encode(v.tolist(), depth)
        if kind not in "biufc":
            raise BadReturn(f"is a numpy array of dtype {v.dtype}, which the grader cannot read")
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
                raise BadReturn(f"is a SymPy expression with more than {self.nodes} nodes")
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
                raise BadReturn(f"is a SymPy expression too large to grade (over {self.nodes} "
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
                raise BadReturn(f"uses a symbol with an unusable name {e.name!r}")
            return ["Symbol", _str_add("", e.name)]
        if isinstance(e, k.Integer):
            if int(e).bit_length() > _INT_BITS:
                raise BadReturn("contains an integer with more than 1000 digits")
            return ["Integer", int(e)]
        if isinstance(e, k.Rational):
            if max(int(e.p).bit_length(), int(e.q).bit_length()) > _INT_BITS:
                raise BadReturn("contains a fraction with more than 1000 digits")
            return ["Rational", int(e.p), int(e.q)]
        if isinstance(e, k.Float):
            x = float(e)
            if not math.isfinite(x):
                raise BadReturn(f"contains the number {e}, which does not fit in a float")
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
        raise BadReturn(f"is a SymPy expression containing {what or name}, which the grader "
                         "cannot check; use only + - * / **, exp, log, tanh and sigmoid")


def _make_kit():
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


def sympy_kit():
    """SymPy's classes the encoder needs, made once per process (the warm
    template makes them before it forks, so no child pays for the import)."""
    if not _KIT:
        _KIT.append(_make_kit())
    return _KIT[0]


def after_call(args):
    """Each positional argument as it is after a call: for an array, its
    dtype, shape and bytes (base64); None for anything else. The grader, not
    this process, decides whether the student changed it."""
    out = []
    for a in args:
        if type(a) is _ndarray and a.dtype.kind in "biufc":
            out.append([a.dtype.str, list(a.shape), _b64encode(a.tobytes()).decode("ascii")])
        else:
            out.append(None)
    return out
